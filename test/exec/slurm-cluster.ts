import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';

/** A port nobody listens on now (the kernel's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => boolean, timeoutMs: number, logs: string[]): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) {
      const tail = logs.filter(existsSync).map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-20).join('\n')}`).join('\n');
      throw new Error(`the test cluster did not come up: ${what} after ${timeoutMs / 1000}s\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface SlurmCluster {
  /** Environment for Slurm's client commands (SLURM_CONF). */
  env: Record<string, string>;
  logs: string;
  stop(): Promise<void>;
}

/**
 * A one-node Slurm cluster from the system packages, owned by this process: munged with a
 * generated key, slurmctld and slurmd in the foreground with a generated slurm.conf in dir
 * (no accounting database, no cgroups, no systemd), on ports picked free.
 */
export async function startSlurmCluster(dir: string): Promise<SlurmCluster> {
  for (const d of ['munge', 'state', 'spool', 'log']) mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o600 });
  chmodSync(join(dir, 'munge'), 0o700);
  const socket = join(dir, 'munge', 'munge.socket');
  const host = hostname().split('.')[0]!;
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=userlm-test',
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'MpiDefault=none',
      'ReturnToService=2',
      // Finished jobs stay visible to squeue for the whole test.
      'MinJobAge=3600',
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${Math.min(2, cpus().length)} State=UNKNOWN`,
      'PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const children: ChildProcess[] = [];
  const daemon = (cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('exit', (code) => {
      if (code) writeFileSync(join(dir, 'log', `${cmd.split('/').pop()}.exit`), `exit ${code}\n${err}`);
    });
    children.push(c);
  };
  const logs = [join(dir, 'log', 'slurmctld.log'), join(dir, 'log', 'slurmd.log'), join(dir, 'munge', 'munged.log'), join(dir, 'log', 'munged.exit'), join(dir, 'log', 'slurmctld.exit'), join(dir, 'log', 'slurmd.exit')];
  daemon('/usr/sbin/munged', ['-F', '--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(dir, 'munge', 'munged.pid')}`, `--log-file=${join(dir, 'munge', 'munged.log')}`, `--seed-file=${join(dir, 'munge', 'munged.seed')}`]);
  await until('munged socket', () => existsSync(socket), 20000, logs);
  daemon('/usr/sbin/slurmctld', ['-D', '-i', '-f', conf]);
  const sinfo = () => spawnSync('sinfo', ['-h', '-o', '%T'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  await until('slurmctld answering', () => sinfo().status === 0, 30000, logs);
  daemon('/usr/sbin/slurmd', ['-D', '-N', host, '-f', conf]);
  await until('the node idle', () => /^idle/m.test(sinfo().stdout), 60000, logs);
  return {
    env,
    logs: join(dir, 'log'),
    async stop() {
      spawnSync('scancel', ['--full', '--user=root'], { env: { ...process.env, ...env } });
      for (const c of children.reverse()) {
        if (c.exitCode !== null) continue;
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    },
  };
}
