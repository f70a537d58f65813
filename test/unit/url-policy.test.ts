import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { classifyAddress, isPublicAddress, UrlPolicy, type UrlPolicyOptions } from '#adapters/fetch/url-policy.ts';
import { errorKind } from '#functions/errors.ts';

/** A resolver over a fixed table: no DNS query leaves the process. */
function resolverOf(table: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, asked };
}

function policyOf(overrides: Partial<UrlPolicyOptions> = {}): UrlPolicy {
  return new UrlPolicy({ allowPrivate: false, allowHosts: [], resolve: resolverOf({}).resolve, ...overrides });
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string; kind: string }> {
  try {
    await promise;
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message, kind: errorKind(error) };
  }
  assert.fail('expected a refusal');
}

describe('classifyAddress', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['169.254.1.1', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['[::1]', 'loopback'],
    ['::7f00:1', 'ipv4Compatible'],
    ['::127.0.0.1', 'ipv4Compatible'],
    ['::8.8.8.8', 'ipv4Compatible'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:7f00:1::1', '6to4'],
    ['2002:808:808::1', '6to4'],
    ['2001::1', 'teredo'],
  ];
  for (const [address, range] of cases) {
    it(`classifies ${address} as ${range}, not public`, () => {
      assert.equal(classifyAddress(address), range);
      assert.equal(isPublicAddress(address), false);
    });
  }

  for (const address of ['8.8.8.8', '1.1.1.1', '151.101.1.69', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
    it(`classifies ${address} as public`, () => {
      assert.equal(classifyAddress(address), 'public');
      assert.equal(isPublicAddress(address), true);
    });
  }
});

describe('UrlPolicy.check', () => {
  it('refuses a literal private or loopback IP without asking DNS', async () => {
    const dns = resolverOf({});
    const policy = policyOf({ resolve: dns.resolve });

    for (const url of ['http://127.0.0.1:8080/x.jpg', 'http://10.0.0.1/x.jpg', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x.jpg', 'http://[::ffff:7f00:1]/x.jpg', 'http://2130706433/x.jpg']) {
      const refused = await refusal(policy.check(new URL(url)));
      assert.equal(refused.code, 'URL_REFUSED', url);
      assert.equal(refused.kind, 'permanent', url);
    }
    assert.deepEqual(dns.asked, []);
  });

  it('refuses a host name that resolves to a private address and names the host, not the URL', async () => {
    const dns = resolverOf({ 'intranet.test': ['151.101.1.69', '10.0.0.7'] });
    const policy = policyOf({ resolve: dns.resolve });

    const refused = await refusal(policy.check(new URL('https://intranet.test/a.jpg?token=s3cret')));

    assert.equal(refused.code, 'URL_REFUSED');
    assert.match(refused.message, /intranet\.test.*10\.0\.0\.7.*private/);
    assert.doesNotMatch(refused.message, /s3cret/);
    assert.deepEqual(dns.asked, ['intranet.test']);
  });

  it('accepts a host name whose every address is public', async () => {
    const policy = policyOf({ resolve: resolverOf({ 'images.test': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] }).resolve });

    await policy.check(new URL('https://images.test/a.jpg'));
  });

  it('refuses schemes other than http and https, and URLs with credentials', async () => {
    const policy = policyOf({ allowPrivate: true });

    assert.equal((await refusal(policy.check(new URL('ftp://files.test/a.jpg')))).code, 'URL_REFUSED');
    assert.equal((await refusal(policy.check(new URL('file:///etc/passwd')))).code, 'URL_REFUSED');
    const withCredentials = await refusal(policy.check(new URL('http://user:hunter2@images.test/a.jpg')));
    assert.equal(withCredentials.code, 'URL_REFUSED');
    assert.doesNotMatch(withCredentials.message, /hunter2/);
  });

  it('lets anything through when private addresses are allowed, without resolving', async () => {
    const dns = resolverOf({});
    const policy = policyOf({ allowPrivate: true, resolve: dns.resolve });

    await policy.check(new URL('http://10.0.0.1/x.jpg'));
    await policy.check(new URL('http://minio:9000/x.jpg'));
    assert.deepEqual(dns.asked, []);
  });

  it('reports an unknown host as a transient DNS_NOT_FOUND', async () => {
    const refused = await refusal(policyOf().check(new URL('https://nowhere.test/a.jpg')));

    assert.equal(refused.code, 'DNS_NOT_FOUND');
    assert.equal(refused.kind, 'transient');
  });
});

describe('UrlPolicy allow-list', () => {
  it('allows a listed host on any port', async () => {
    const policy = policyOf({ allowHosts: ['minio'], resolve: resolverOf({ minio: ['172.18.0.5'] }).resolve });

    await policy.check(new URL('http://minio:9000/x.jpg'));
    await policy.check(new URL('http://minio/x.jpg'));
    assert.equal(policy.isAllowListed(new URL('https://MINIO./x.jpg')), true);
  });

  it('allows a listed host:port only on that port, counting default ports', async () => {
    const policy = policyOf({ allowHosts: ['127.0.0.1:8000', 'api:80'] });

    await policy.check(new URL('http://127.0.0.1:8000/samples/seed/1/64/48'));
    assert.equal(policy.isAllowListed(new URL('http://api/samples/x')), true);
    assert.equal(policy.isAllowListed(new URL('https://api/samples/x')), false);
    assert.equal((await refusal(policy.check(new URL('http://127.0.0.1:8001/x.jpg')))).code, 'URL_REFUSED');
  });

  it('matches IPv6 entries written with or without brackets', () => {
    const policy = policyOf({ allowHosts: ['[::1]:8080', '0:0:0:0:0:0:0:2'] });

    assert.equal(policy.isAllowListed(new URL('http://[::1]:8080/x.jpg')), true);
    assert.equal(policy.isAllowListed(new URL('http://[::1]:8081/x.jpg')), false);
    assert.equal(policy.isAllowListed(new URL('http://[::2]:1234/x.jpg')), true);
  });

  it('does not let a listed host vouch for another name that resolves to the same address', async () => {
    const policy = policyOf({ allowHosts: ['localhost'], resolve: resolverOf({ 'evil.test': ['127.0.0.1'] }).resolve });

    assert.equal((await refusal(policy.check(new URL('http://evil.test/x.jpg')))).code, 'URL_REFUSED');
  });
});

describe('UrlPolicy.lookup (the connector lookup)', () => {
  const lookupOnce = (policy: UrlPolicy, hostname: string, all: boolean) =>
    new Promise<{ error: Error | null; address: unknown; family: number | undefined }>((resolve) => {
      policy.lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family }));
    });

  it('answers only with the addresses it checked', async () => {
    const policy = policyOf({ resolve: resolverOf({ 'images.test': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] }).resolve });

    const single = await lookupOnce(policy, 'images.test', false);
    const all = await lookupOnce(policy, 'images.test', true);

    assert.deepEqual(single, { error: null, address: '93.184.215.14', family: 4 });
    assert.deepEqual(all.address, [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
  });

  it('lets the classify option decide which addresses count as public', async () => {
    const loopbackAsPublic = (address: string) => (address === '127.0.0.1' ? 'public' : classifyAddress(address));
    const policy = policyOf({ classify: loopbackAsPublic, resolve: resolverOf({ 'images.test': ['127.0.0.1'], 'other.test': ['127.0.0.2'] }).resolve });

    const accepted = await lookupOnce(policy, 'images.test', false);
    const refused = await lookupOnce(policy, 'other.test', false);

    assert.deepEqual(accepted, { error: null, address: '127.0.0.1', family: 4 });
    assert.equal((refused.error as { code?: string } | null)?.code, 'URL_REFUSED');
  });

  it('fails the connection when the name now resolves to a private address', async () => {
    const policy = policyOf({ resolve: resolverOf({ 'rebind.test': ['169.254.169.254'] }).resolve });

    const { error } = await lookupOnce(policy, 'rebind.test', false);

    assert.equal((error as { code?: string } | null)?.code, 'URL_REFUSED');
  });
});
