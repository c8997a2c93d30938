/**
 * The shipped provider catalog: presets of well-known providers, as data in catalog.json. Loaded
 * once and validated preset by preset (an empty client_id is allowed: operators add theirs). The
 * server validates it after it starts listening, one preset per event-loop turn
 * (`loadProviderCatalogGradually`: validating every preset's schemas compiles them with ajv, a
 * tenth of a second that would otherwise hold the first requests, /healthz included), and logs an
 * error naming the bad preset; a ListProviderPresets before that loads it at once
 * (`createLazyProviderCatalog`). catalog.test.ts checks the shipped file.
 */
import { readFileSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { ProviderProfile } from "./profile.ts";
import { createProfileValidator, type ProfileValidator } from "./validate-profile.ts";

/** The catalog of presets. */
export interface ProviderCatalog {
  /** Presets by name, optionally only those of `category` (case-insensitive). */
  list(category?: string): ProviderProfile[];
  /** One preset, or undefined. */
  get(name: string): ProviderProfile | undefined;
}

/** Where the shipped catalog lives. */
export const SHIPPED_CATALOG_FILE = new URL("./catalog.json", import.meta.url);

/** Loads and validates a catalog file (default: the shipped one); throws naming the bad preset. */
export function loadProviderCatalog(options: { file?: URL | string; validator?: ProfileValidator } = {}): ProviderCatalog {
  return createProviderCatalog(readPresets(options.file), options.validator);
}

/**
 * `loadProviderCatalog`, validating one preset per event-loop turn, so requests are served in
 * between; rejects as `loadProviderCatalog` throws.
 */
export async function loadProviderCatalogGradually(
  options: { file?: URL | string; validator?: ProfileValidator } = {},
): Promise<ProviderCatalog> {
  const presets = readPresets(options.file);
  const builder = catalogBuilder(options.validator ?? createProfileValidator());
  for (const [index, preset] of presets.entries()) {
    await nextTurn();
    builder.add(preset, index);
  }
  return builder.done();
}

function readPresets(file: URL | string = SHIPPED_CATALOG_FILE): unknown[] {
  const document = JSON.parse(readFileSync(file, "utf8")) as { providers?: unknown };
  if (!Array.isArray(document.providers)) throw new Error(`provider catalog ${String(file)}: "providers" must be a list`);
  return document.providers;
}

/** Builds a catalog from preset objects, validating each; throws on an invalid or duplicate preset. */
export function createProviderCatalog(
  presets: readonly unknown[],
  validator: ProfileValidator = createProfileValidator(),
): ProviderCatalog {
  const builder = catalogBuilder(validator);
  for (const [index, preset] of presets.entries()) builder.add(preset, index);
  return builder.done();
}

/** Validates presets one by one (`add` throws on an invalid or duplicate one), then builds the catalog. */
function catalogBuilder(validator: ProfileValidator): { add(preset: unknown, index: number): void; done(): ProviderCatalog } {
  const byName = new Map<string, ProviderProfile>();
  return {
    add(preset, index) {
      let profile: ProviderProfile;
      try {
        profile = validator.validate(preset, { purpose: "preset", fieldPrefix: `providers[${index}]` });
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new Error(`provider catalog: preset ${index} is invalid: ${reason}`, { cause });
      }
      if (byName.has(profile.name)) throw new Error(`provider catalog: preset name "${profile.name}" is used twice`);
      byName.set(profile.name, profile);
    },
    done() {
      const sorted = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
      return {
        list(category) {
          if (category === undefined || category === "") return sorted;
          const wanted = category.toLowerCase();
          return sorted.filter((p) => p.category.toLowerCase() === wanted);
        },
        get(name) {
          return byName.get(name.toLowerCase());
        },
      };
    },
  };
}

/**
 * A catalog loaded by `load` on first use (list, get or `ensureLoaded`), unless `provide` gave it
 * one loaded another way first; a failed load is retried on the next use.
 */
export function createLazyProviderCatalog(
  load: () => ProviderCatalog,
): ProviderCatalog & { ensureLoaded(): void; provide(catalog: ProviderCatalog): void } {
  let loaded: ProviderCatalog | undefined;
  const catalog = () => {
    loaded ??= load();
    return loaded;
  };
  return {
    list: (category) => catalog().list(category),
    get: (name) => catalog().get(name),
    ensureLoaded: () => void catalog(),
    provide: (ready) => {
      loaded ??= ready;
    },
  };
}
