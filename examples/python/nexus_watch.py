"""Calls Nexus from Python over gRPC with stubs generated from proto/ (see README, "Other languages").

Usage: PYTHONPATH=<stubs dir> python3 nexus_watch.py CONNECTION_ID
Reads NEXUS_URL (default http://127.0.0.1:8080) and NEXUS_API_KEY. Prints GetToken's credential
metadata, then the first credential event of WatchCredentials, as JSON lines (never the secret
values: only their field names), and exits.
"""
import json
import os
import sys
from urllib.parse import urlparse

import grpc

from nexus.v1 import credential_pb2, tokens_pb2, tokens_pb2_grpc


def channel_for(url: str) -> grpc.Channel:
    parsed = urlparse(url)
    target = f"{parsed.hostname}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    if parsed.scheme == "https":
        return grpc.secure_channel(target, grpc.ssl_channel_credentials())
    return grpc.insecure_channel(target)  # cleartext HTTP/2 (h2c), as on a development machine


def describe(credential: credential_pb2.Credential) -> dict:
    return {
        "connection_id": credential.connection_id,
        "strategy": credential_pb2.StrategyType.Name(credential.strategy.type),
        "version": credential.version,
        "expires_at": credential.expires_at,
        "credential_fields": sorted(credential.credentials.fields.keys()),
    }


def main() -> int:
    connection_id = sys.argv[1]
    metadata = [("authorization", f"Bearer {os.environ['NEXUS_API_KEY']}")]
    with channel_for(os.environ.get("NEXUS_URL", "http://127.0.0.1:8080")) as channel:
        tokens = tokens_pb2_grpc.TokenServiceStub(channel)
        got = tokens.GetToken(tokens_pb2.GetTokenRequest(connection_id=connection_id), metadata=metadata, timeout=30)
        print(json.dumps({"get_token": describe(got.credential)}), flush=True)

        stream = tokens.WatchCredentials(tokens_pb2.WatchCredentialsRequest(connection_id=connection_id), metadata=metadata)
        try:
            for event in stream:
                if event.WhichOneof("event") == "credential":
                    print(json.dumps({"watch": describe(event.credential)}), flush=True)
                    break
        finally:
            stream.cancel()  # a watch never ends by itself: stop after the first credential
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as err:
        # The status code is the contract (NOT_FOUND, FAILED_PRECONDITION, ...); the ErrorInfo detail
        # in the grpc-status-details-bin trailer carries the machine-readable reason.
        print(f"nexus: {err.code().name}: {err.details()}", file=sys.stderr)
        sys.exit(1)
