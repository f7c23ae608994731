/**
 * Typed Dockerfile instructions: what instructions.ts makes of the syntax tree. Words are
 * still as written (quotes, $VARS): expand.ts resolves them against a stage's ARGs and ENV
 * at the point the instruction runs, as BuildKit does.
 */
import type { RunMount } from './run-mount.js';

export interface Loc {
  file: string;
  /** 1-based first and last line of the instruction. */
  line: number;
  endLine: number;
}

export interface KeyValue {
  key: string;
  value: string;
  /** Legacy `ENV key value` form (no `=`). */
  legacy?: boolean;
}

export interface ArgDef {
  key: string;
  /** Default as written; undefined for `ARG NAME`. */
  value?: string;
}

/** A heredoc body attached to RUN (a script) or COPY/ADD (a file). */
export interface InlineFile {
  name: string;
  data: string;
  /** `<<-`: leading tabs stripped. */
  chomp: boolean;
  /** Unquoted delimiter: $VARS in the body are expanded (COPY/ADD). */
  expand: boolean;
}

export type Instruction = Loc &
  (
    | { kind: 'FROM'; image: string; stageName?: string; platform?: string }
    | {
        kind: 'RUN';
        /** Shell form: one string run with the SHELL; exec form: argv. */
        cmd: string[];
        shellForm: boolean;
        files: InlineFile[];
        /** Raw --mount values (expanded then parsed by expand.ts). */
        mounts: string[];
        network?: 'default' | 'none' | 'host';
        security?: 'sandbox' | 'insecure';
      }
    | { kind: 'CMD' | 'ENTRYPOINT'; cmd: string[]; shellForm: boolean }
    | { kind: 'SHELL'; shell: string[] }
    | { kind: 'ENV' | 'LABEL'; pairs: KeyValue[] }
    | { kind: 'ARG'; args: ArgDef[] }
    | {
        kind: 'COPY' | 'ADD';
        sources: string[];
        /** Heredoc sources (`COPY <<EOF /dst`). */
        contents: InlineFile[];
        dest: string;
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        parents: boolean;
        exclude: string[];
        /** ADD only. */
        checksum?: string;
        keepGitDir: boolean;
        unpack?: boolean;
      }
    | { kind: 'EXPOSE'; ports: string[] }
    | { kind: 'VOLUME'; volumes: string[] }
    | { kind: 'USER'; user: string }
    | { kind: 'WORKDIR'; path: string }
    | { kind: 'STOPSIGNAL'; signal: string }
    | { kind: 'MAINTAINER'; maintainer: string }
    | {
        kind: 'HEALTHCHECK';
        /** ["NONE"], ["CMD", …argv] or ["CMD-SHELL", command]. */
        test: string[];
        /** Nanoseconds; 0 = not set (inherit docker's default). */
        interval: number;
        timeout: number;
        startPeriod: number;
        startInterval: number;
        retries: number;
      }
    | { kind: 'ONBUILD'; /** The trigger as written, without "ONBUILD". */ expression: string; trigger: Instruction }
  );

export type InstructionKind = Instruction['kind'];
export type Of<K extends InstructionKind> = Extract<Instruction, { kind: K }>;
