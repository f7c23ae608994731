/** Media types of the OCI image spec and docker schema2. */
export const MT = {
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_NONDIST: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OCI_LAYER_NONDIST_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER: 'application/vnd.docker.image.rootfs.diff.tar',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_LAYER_FOREIGN_GZIP: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type Compression = 'none' | 'gzip' | 'zstd';

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MT.OCI_INDEX || mt === MT.DOCKER_MANIFEST_LIST;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt === MT.OCI_MANIFEST || mt === MT.DOCKER_MANIFEST;
}

/** Compression of a layer from its media type; undefined when it is not a layer type tsrun knows. */
export function layerCompression(mt: string): Compression | undefined {
  switch (mt) {
    case MT.OCI_LAYER:
    case MT.OCI_LAYER_NONDIST:
    case MT.DOCKER_LAYER:
      return 'none';
    case MT.OCI_LAYER_GZIP:
    case MT.OCI_LAYER_NONDIST_GZIP:
    case MT.DOCKER_LAYER_GZIP:
    case MT.DOCKER_LAYER_FOREIGN_GZIP:
      return 'gzip';
    case MT.OCI_LAYER_ZSTD:
      return 'zstd';
    default:
      return undefined;
  }
}

/** Layer media type for a manifest format and a compression. */
export function layerMediaType(format: 'oci' | 'docker', c: Compression): string {
  if (format === 'docker') {
    if (c === 'zstd') return MT.OCI_LAYER_ZSTD; // docker schema2 has no zstd type; moby writes the OCI one
    return c === 'gzip' ? MT.DOCKER_LAYER_GZIP : MT.DOCKER_LAYER;
  }
  return c === 'gzip' ? MT.OCI_LAYER_GZIP : c === 'zstd' ? MT.OCI_LAYER_ZSTD : MT.OCI_LAYER;
}
