/** Where the hosted credential form lives: `/connect/capture/{state}` (GET shows it, POST submits it). */
export const CAPTURE_PATH_PREFIX = "/connect/capture/";

/**
 * Whether a request URL may be the capture form's: a cheap test, so the app loads the capture
 * module only for these requests (key-capture.ts then checks the state segment).
 */
export function isCapturePath(url: string | undefined): boolean {
  return (url ?? "/").startsWith(CAPTURE_PATH_PREFIX);
}
