/**
 * `tsrun healthcheck run CONTAINER` (podman's verb): one check of the
 * container's healthcheck now, recorded as the scheduled ones are (the
 * container's monitor runs this same code at each interval, with
 * `--scheduled`: native/init/watch.c). docker's probe semantics: output is the
 * first 4 KiB of stdout and stderr; a probe past its timeout is killed and
 * recorded with exit code -1 and "Health check exceeded timeout (30s)"; a
 * probe that cannot be started is recorded with -1 and the error.
 */
import type { Ctx } from '../context.js';
import { TsrunError, isTsrunError } from '../util/errors.js';
import type { Container } from '../containers/record.js';
import { refresh } from '../containers/status.js';
import { healthTimings, MAX_OUTPUT_BYTES, probeOf, recordProbe, type HealthRecord, type HealthLogEntry } from '../containers/health.js';
import { execProbe } from '../containers/health-exec.js';
import { formatGoDuration } from './build/go-format.js';

export interface CheckResult {
  entry: HealthLogEntry;
  record: HealthRecord;
}

/** Errors of this verb are podman's exit 125 (0 and 1 are the check's answer). */
const failure = (message: string, hint: string) => new TsrunError('CONFLICT', message, { hint, exitCode: 125 });

export async function runHealthcheck(ctx: Ctx, c0: Container): Promise<CheckResult> {
  const c = refresh(ctx, c0);
  const probe = probeOf(c);
  if (!probe) throw failure(`container ${c.config.name} has no defined healthcheck`, 'create it with --health-cmd, or from an image with a HEALTHCHECK');
  if (c.state.status !== 'running') throw failure(`container ${c.config.name} is not running`, `start it first: tsrun start ${c.config.name}`);
  const { timeoutMs } = healthTimings(c);
  const start = new Date();
  let exitCode: number;
  let output: string;
  try {
    const r = await execProbe(ctx, c, probe.argv, { timeoutMs, maxOutput: MAX_OUTPUT_BYTES });
    exitCode = r.exitCode;
    output = r.timedOut ? `Health check exceeded timeout (${formatGoDuration(timeoutMs * 1e6)})` : r.output.toString('utf8');
  } catch (err) {
    // stopped or paused meanwhile: no result, as docker's monitor stops with the container
    if (isTsrunError(err) && err.code === 'CONFLICT') throw failure(err.message, err.hint ?? '');
    exitCode = -1;
    output = (err as Error).message;
  }
  const entry: HealthLogEntry = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output };
  return { entry, record: recordProbe(c, entry) };
}
