/**
 * docker's mount flags, parsed: -v's forms and modes, --mount's CSV syntax and
 * its errors, --volumes-from, duplicate targets. What they do on a host is
 * test/integration/volumes.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountFlag, parseMountFlags, parseVolumeFlag, parseVolumesFrom, ramInBytes, splitCsv, validVolumeName } from '../../src/volumes/spec.js';
import { matchesFilters, parseVolumeFilters } from '../../src/ops/volume.js';
import type { Volume } from '../../src/volumes/store.js';

test('-v: bind, ./relative bind, named volume, anonymous volume', () => {
  assert.deepEqual(parseVolumeFlag('/h:/c'), { type: 'bind', source: '/h', createSource: true, destination: '/c', readonly: false, mode: '', spec: '/h:/c', from: '-v' });
  assert.equal(parseVolumeFlag('./dir:/x', '/work').source, '/work/dir');
  assert.equal(parseVolumeFlag('.:/x', '/work').source, '/work');
  assert.equal(parseVolumeFlag('../up:/x', '/work/a').source, '/work/up');
  const named = parseVolumeFlag('data:/var/lib/x/');
  assert.equal(named.type, 'volume');
  assert.equal(named.source, 'data');
  assert.equal(named.destination, '/var/lib/x');
  const anon = parseVolumeFlag('/data');
  assert.equal(anon.type, 'volume');
  assert.equal(anon.source, undefined);
  const anonRo = parseVolumeFlag('/data:ro');
  assert.equal(anonRo.source, undefined);
  assert.equal(anonRo.readonly, true);
});

test('-v modes combine with commas, each kind at most once', () => {
  const m = parseVolumeFlag('/h:/c:ro,Z,rslave');
  assert.equal(m.readonly, true);
  assert.equal(m.propagation, 'rslave');
  assert.equal(m.mode, 'ro,Z,rslave');
  assert.equal(parseVolumeFlag('v1:/c:nocopy,z,rw').noCopy, true);
  for (const bad of ['/h:/c:ro,rw', '/h:/c:z,Z', '/h:/c:shared,slave', '/h:/c:bogus', '/h:/c:ro,']) assert.throws(() => parseVolumeFlag(bad), /invalid mode/, bad);
  assert.throws(() => parseVolumeFlag('/h:/c:nocopy'), /nocopy is only valid for volumes/);
  assert.throws(() => parseVolumeFlag('v1:/c:shared'), /propagation mode is only valid for bind mounts/);
});

test('-v: bad names, bad targets, bad shapes', () => {
  assert.throws(() => parseVolumeFlag('a/b:/x'), /"a\/b" includes invalid characters for a local volume name/);
  assert.throws(() => parseVolumeFlag('x:/c'), /invalid characters/); // one character: docker's regexp wants two
  assert.throws(() => parseVolumeFlag('/h:rel'), /not an absolute path/);
  assert.throws(() => parseVolumeFlag('/h:/'), /destination can't be '\/'/);
  assert.throws(() => parseVolumeFlag('/h:/c:ro:x'), /invalid volume specification/);
  assert.throws(() => parseVolumeFlag(':/c'), /invalid volume specification/);
  assert.ok(validVolumeName('my-vol_1.2'));
  assert.ok(!validVolumeName('-x'));
  assert.ok(!validVolumeName('.x'));
});

test('--mount: the three types with their options', () => {
  assert.deepEqual(parseMountFlag('type=bind,source=/h,target=/c,readonly,bind-propagation=rshared'), {
    type: 'bind', source: '/h', destination: '/c', readonly: true, mode: '', from: '--mount', propagation: 'rshared',
  });
  assert.equal(parseMountFlag('type=bind,src=rel,dst=/c', '/w').source, '/w/rel');
  const v = parseMountFlag('source=data,target=/d,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs,volume-opt=device=tmpfs,ro=false');
  assert.equal(v.type, 'volume'); // docker's default type
  assert.equal(v.readonly, false);
  assert.equal(v.noCopy, true);
  assert.deepEqual(v.volumeLabels, { a: 'b' });
  assert.deepEqual(v.volumeOptions, { type: 'tmpfs', device: 'tmpfs' });
  assert.equal(parseMountFlag('type=volume,target=/anon').source, undefined);
  assert.deepEqual(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770').options, ['size=67108864', 'mode=1770']);
  assert.equal(parseMountFlag('"type=bind","source=/a,b",target=/c').source, '/a,b'); // CSV quoting
  assert.equal(parseMountFlag('TYPE=bind,Source=/h,Target=/c').type, 'bind'); // keys are case-insensitive
});

test('--mount: docker errors, one line each', () => {
  const cases: [string, RegExp][] = [
    ['type=bind,source=/h', /for "--mount" flag: target is required/],
    ['type=bind,target=/c', /field Source must not be empty/],
    ['type=tmpfs,source=/h,target=/c', /field Source must not be specified/],
    ['type=nope,target=/c', /invalid mount config for type "nope": mount type unknown/],
    ['type=bind,source=/h,target=/c,bogus=1', /unexpected key 'bogus' in 'bogus=1'/],
    ['type=bind,source,target=/c', /invalid field 'source' must be a key=value pair/],
    ['type=bind,source=/h,target=/c,readonly=maybe', /invalid value for readonly: maybe/],
    ['type=bind,source=/h,target=/c,volume-nocopy', /cannot mix 'volume-\*' options with mount type 'bind'/],
    ['type=volume,target=/c,tmpfs-size=1m', /cannot mix 'tmpfs-\*' options with mount type 'volume'/],
    ['type=tmpfs,target=/c,tmpfs-size=lots', /invalid value for tmpfs-size: lots/],
    ['type=tmpfs,target=/c,tmpfs-mode=999', /invalid value for tmpfs-mode: 999/],
    ['type=bind,source=/h,target=/c,bind-propagation=sideways', /invalid value for bind-propagation/],
    ['type=volume,source=a/b,target=/c', /includes invalid characters for a local volume name/],
    ['type=volume,target=/c,volume-opt=color=red', /invalid option key: "color"/],
    ['type=volume,target=/c,volume-driver=nfs', /not supported by tsrun/],
    ['type=bind,source=/h,target=rel', /not an absolute path/],
    ['type=bind,source=/h,target=/', /destination can't be '\/'/],
    ['"type=bind,source=/h,target=/c', /quoted-field/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => parseMountFlag(spec), (e: Error) => re.test(e.message) && !e.message.includes('\n'), spec);
  }
});

test('duplicate targets across -v, --mount and --tmpfs are refused', () => {
  assert.throws(() => parseMountFlags({ volume: ['/h:/c'], mount: ['type=tmpfs,target=/c'], tmpfs: [] }), /Duplicate mount point: \/c/);
  assert.throws(() => parseMountFlags({ volume: ['v1:/c/'], tmpfs: ['/c'] }), /Duplicate mount point/);
  assert.equal(parseMountFlags({ volume: ['v1:/a', '/b'], mount: ['type=tmpfs,target=/t'], tmpfs: ['/u'] }).length, 4);
});

test('--volumes-from CTR[:ro|rw], csv and sizes', () => {
  assert.deepEqual(parseVolumesFrom('web'), { ref: 'web' });
  assert.deepEqual(parseVolumesFrom('web:ro'), { ref: 'web', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('web:rx'), /invalid mode: rx/);
  assert.deepEqual(splitCsv('a,"b,c",d""'.replace('d""', '"d"""')), ['a', 'b,c', 'd"']);
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.equal(ramInBytes('512k'), 512 * 1024);
  assert.equal(ramInBytes('100'), 100);
  assert.equal(ramInBytes('x'), undefined);
});

test('volume ls filters: same key ORs, different keys AND', () => {
  const vol = (name: string, labels: Record<string, string>): Volume => ({ Name: name, Driver: 'local', CreatedAt: '', Labels: labels, Options: {}, Scope: 'local', Mountpoint: '' });
  const a = { volume: vol('alpha', { tier: 'db' }), users: [] };
  const b = { volume: vol('beta', { tier: 'web', x: '' }), users: ['c1'] };
  const pick = (f: string[]) => [a, b].filter((u) => matchesFilters(u, parseVolumeFilters(f))).map((u) => u.volume.Name);
  assert.deepEqual(pick(['dangling=true']), ['alpha']);
  assert.deepEqual(pick(['dangling=false']), ['beta']);
  assert.deepEqual(pick(['name=alp']), ['alpha']);
  assert.deepEqual(pick(['label=tier=db', 'label=tier=web']), ['alpha', 'beta']);
  assert.deepEqual(pick(['label=x']), ['beta']);
  assert.deepEqual(pick(['label=tier', 'dangling=true']), ['alpha']);
  assert.throws(() => parseVolumeFilters(['color=red']), /invalid filter 'color'/);
  assert.throws(() => parseVolumeFilters(['dangling=maybe']), /invalid filter/);
});
