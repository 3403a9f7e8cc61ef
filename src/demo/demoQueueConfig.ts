/**
 * The queue `npm start` serves when no HARVESTER_QUEUE_CONFIG is given: local processes as
 * pilots (no batch system needed), short cycles so the whole life of a worker shows in the
 * Temporal UI within a minute or two. Written in Harvester's panda_queueconfig.json format.
 */
import { join } from 'node:path';

export const DEMO_QUEUE = 'DEMO_LOCAL';

export function demoQueueConfig(dataDir: string): Record<string, unknown> {
  const workDir = join(dataDir, 'demo', 'workers');
  return {
    [DEMO_QUEUE]: {
      queueStatus: 'online',
      prodSourceLabel: 'managed',
      mapType: 'NoJob',
      truePilot: true,
      maxWorkers: 6,
      nQueueLimitWorker: 3,
      maxNewWorkersPerCycle: 2,
      submitter: {
        module: 'pandaharvester.harvestersubmitter.local_submitter',
        name: 'LocalSubmitter',
        // A stand-in pilot: works for 20-59 s (longer for some ids), and fails now and then.
        template: [
          '#!/bin/sh',
          'echo "pilot of worker ${workerID} on ${computingSite}, harvester ${harvesterID}"',
          'sleep $((20 + ${workerID} * 7 % 40))',
          'test $((${workerID} % 5)) -ne 0',
          '',
        ].join('\n'),
      },
      monitor: { module: 'pandaharvester.harvestermonitor.local_monitor', name: 'LocalMonitor' },
      sweeper: { module: 'pandaharvester.harvestersweeper.local_sweeper', name: 'LocalSweeper' },
      workerMaker: {
        module: 'pandaharvester.harvesterworkermaker.simple_worker_maker',
        name: 'SimpleWorkerMaker',
      },
      messenger: {
        module: 'pandaharvester.harvestermessenger.shared_file_messenger',
        name: 'SharedFileMessenger',
        accessPoint: `${workDir}/\${workerID}`,
      },
      preparator: { module: 'pandaharvester.harvesterpreparator.dummy_preparator', name: 'DummyPreparator' },
      stager: { module: 'pandaharvester.harvesterstager.dummy_stager', name: 'DummyStager' },
      temporal: {
        submitterIntervalSeconds: 15,
        monitorIntervalSeconds: 10,
        heartbeatIntervalSeconds: 60,
        sweeperIntervalSeconds: 10,
        keepFinished: 0,
        keepFailed: 0,
        keepCancelled: 0,
        keepMissed: 0,
      },
    },
  };
}
