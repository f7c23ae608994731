/**
 * Test helper: small docker-archive and oci-archive tarballs built in memory,
 * with knobs to tamper with them (the hostile-archive tests).
 */
import { buildTar, type FixtureEntry } from './tarfixture.js';
import { sha256 } from '../../src/oci/digest.js';

export const hex = (d: string) => d.slice('sha256:'.length);

export async function layerTar(files: Record<string, string> = { 'hello.txt': 'hello\n' }, extra: FixtureEntry[] = []): Promise<Buffer> {
  return buildTar([...Object.entries(files).map(([name, content]) => ({ name, content })), ...extra]);
}

export function configFor(layers: Buffer[], created = '2024-01-01T00:00:00Z'): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created,
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
      history: layers.map((_l, i) => ({ created, created_by: `/bin/sh -c #(nop) ADD layer${i}` })),
    }),
  );
}

export interface DockerArchiveOpts {
  layers?: Buffer[];
  tags?: string[];
  /** Replace the config bytes (after the manifest was made from the real ones). */
  config?: Buffer;
  /** Change manifest.json before writing. */
  manifest?: (m: { Config: string; RepoTags: string[]; Layers: string[] }[]) => unknown;
  /** Extra raw entries appended. */
  extra?: FixtureEntry[];
  /** Replace a layer's bytes under its (now wrong) name. */
  tamperLayer?: boolean;
  omitLayer?: boolean;
}

export async function dockerArchive(o: DockerArchiveOpts = {}): Promise<Buffer> {
  const layers = o.layers ?? [await layerTar()];
  const config = configFor(layers);
  const cfgName = `blobs/sha256/${hex(sha256(config))}`;
  const layerNames = layers.map((l) => `blobs/sha256/${hex(sha256(l))}`);
  let manifest: unknown = [{ Config: cfgName, RepoTags: o.tags ?? ['fixture:1'], Layers: layerNames }];
  if (o.manifest) manifest = o.manifest(manifest as never);
  const entries: FixtureEntry[] = [{ name: cfgName, content: o.config ?? config }];
  layers.forEach((l, i) => {
    if (o.omitLayer) return;
    const bytes = o.tamperLayer ? Buffer.concat([l.subarray(0, l.length - 1024 - 1), Buffer.from('X'), l.subarray(l.length - 1024)]) : l;
    entries.push({ name: layerNames[i]!, content: bytes });
  });
  entries.push({ name: 'manifest.json', content: JSON.stringify(manifest) }, ...(o.extra ?? []));
  return buildTar(entries);
}

export interface OciArchiveOpts {
  layers?: Buffer[];
  name?: string;
  /** Change the layer descriptor (digest/size) in the manifest. */
  layerDesc?: (d: { mediaType: string; digest: string; size: number }) => void;
  configBytes?: Buffer;
}

export async function ociArchive(o: OciArchiveOpts = {}): Promise<Buffer> {
  const layers = o.layers ?? [await layerTar()];
  const config = o.configBytes ?? configFor(layers);
  const layerDescs = layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length }));
  if (o.layerDesc) o.layerDesc(layerDescs[0]!);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layerDescs,
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(manifest),
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': o.name ?? 'localhost/fixture:oci' },
      },
    ],
  };
  return buildTar([
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: JSON.stringify(index) },
    { name: `blobs/sha256/${hex(sha256(manifest))}`, content: manifest },
    { name: `blobs/sha256/${hex(sha256(config))}`, content: config },
    ...layers.map((l) => ({ name: `blobs/sha256/${hex(sha256(l))}`, content: l })),
  ]);
}
