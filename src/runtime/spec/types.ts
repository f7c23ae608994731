/**
 * The parts of the OCI runtime spec (runtime-spec 1.2, config.json) that
 * tsrun builds. native/init/spec*.c read the same shape; the round-trip test
 * (test/integration/spec-roundtrip.test.ts) holds the two together.
 */
import type { LinuxResources } from '../resources.js';

export const OCI_VERSION = '1.2.0';

export interface SpecNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface SpecDevice {
  path: string;
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  fileMode: number;
  uid?: number;
  gid?: number;
}

export interface SpecDeviceRule {
  allow: boolean;
  type: 'a' | 'b' | 'c';
  major?: number;
  minor?: number;
  access: string;
}

/** linux.resources: the device rules and the limits (../resources.ts's LinuxResources, as dockerd builds them). */
export interface SpecResources extends LinuxResources {
  devices?: SpecDeviceRule[];
}

export interface SpecSeccompArg {
  index: number;
  value: number;
  valueTwo: number;
  op: string;
}

export interface SpecSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SpecSeccompArg[] }[];
}

export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface SpecProcess {
  terminal: boolean;
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: SpecCapabilities;
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

export interface Spec {
  ociVersion: string;
  root?: { path: string; readonly: boolean };
  hostname?: string;
  process: SpecProcess;
  mounts?: SpecMount[];
  linux: {
    namespaces: SpecNamespace[];
    devices?: SpecDevice[];
    resources?: SpecResources;
    seccomp?: SpecSeccomp;
    cgroupsPath?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    /** shared or rslave when a bind asks for it (spec/propagation.ts); absent: every mount private */
    rootfsPropagation?: string;
    /** --uidmap/--gidmap: the maps of a new user namespace */
    uidMappings?: { containerID: number; hostID: number; size: number }[];
    gidMappings?: { containerID: number; hostID: number; size: number }[];
    /** --sysctl */
    sysctl?: Record<string, string>;
  };
  annotations: Record<string, string>;
}
