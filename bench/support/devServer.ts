/** A client and a native connection to the bench dev server, closed together. */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { benchEnvironment } from './env';

export { forEachLimited } from '../../src/util/concurrency';

import { quietRuntime } from './stack';

export interface DevServerLink {
  client: Client;
  connection: NativeConnection;
  namespace: string;
  databaseUrl: string;
  close(): Promise<void>;
}

export async function connectBenchDevServer(): Promise<DevServerLink> {
  const env = benchEnvironment();
  quietRuntime();
  const clientConnection = await Connection.connect({ address: env.temporalAddress });
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  return {
    client: new Client({ connection: clientConnection, namespace: env.namespace }),
    connection,
    namespace: env.namespace,
    databaseUrl: env.databaseUrl,
    async close() {
      await clientConnection.close();
      await connection.close();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
