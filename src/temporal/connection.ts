/**
 * Connections to the Temporal frontend, from the TEMPORAL_* settings. Both kinds fail within a
 * bounded time with a message naming the address, instead of retrying forever.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalSettings } from '../config/settings';

export class TemporalConnectError extends Error {
  override name = 'TemporalConnectError';
}

function tlsConfig(s: TemporalSettings): TLSConfig | undefined {
  if (!s.tls) return undefined;
  const read = (path: string | undefined, what: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TemporalConnectError(`cannot read ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const crt = read(s.tls.clientCertPath, 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = read(s.tls.clientKeyPath, 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  return {
    serverNameOverride: s.tls.serverName,
    serverRootCACertificate: read(s.tls.serverCaCertPath, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'),
    clientCertPair: crt && key ? { crt, key } : undefined,
  };
}

function explain(s: TemporalSettings, err: unknown): TemporalConnectError {
  return new TemporalConnectError(
    `cannot reach the Temporal server at ${s.address} (TEMPORAL_ADDRESS), namespace ${s.namespace}: ${(err as Error).message ?? err}. Is it running? \`npm start\` starts a local dev server.`,
  );
}

export async function connectWorkerConnection(
  s: TemporalSettings,
  timeoutMs = 5000,
): Promise<NativeConnection> {
  try {
    const connection = await withDeadline(
      NativeConnection.connect({ address: s.address, tls: tlsConfig(s), apiKey: s.apiKey }),
      timeoutMs,
    );
    return connection;
  } catch (err) {
    if (err instanceof TemporalConnectError) throw err;
    throw explain(s, err);
  }
}

export async function connectClient(s: TemporalSettings, timeoutMs = 5000): Promise<Client> {
  try {
    const connection = await Connection.connect({
      address: s.address,
      tls: tlsConfig(s),
      apiKey: s.apiKey,
      connectTimeout: timeoutMs,
    });
    // connect() is lazy about the namespace: one cheap call proves the server answers.
    // Bounded: a peer that accepts the connection but never answers must not hang the start.
    await withDeadline(connection.workflowService.getSystemInfo({}), timeoutMs);
    return new Client({ connection, namespace: s.namespace });
  } catch (err) {
    if (err instanceof TemporalConnectError) throw err;
    throw explain(s, err);
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
