/** Before any native connection: the Temporal Runtime can be installed once per process, and worker chatter below WARN would bury the output. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

export function installTemporalRuntime(): void {
  Runtime.install({ logger: new DefaultLogger('WARN') });
}
