import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { PermanentError, TransientError } from '#functions/errors.ts';

/** Resolves a host name to every address it has (the shape of `dns.lookup` with `all: true`). */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface UrlPolicyOptions {
  /** When true, any address may be fetched (`URL_ALLOW_PRIVATE`). */
  readonly allowPrivate: boolean;
  /** `host` or `host:port` entries, lowercase, fetched whatever they resolve to (`URL_ALLOW_HOSTS`). */
  readonly allowHosts: readonly string[];
  /** Defaults to the system resolver; tests give resolution results they control. */
  readonly resolve?: Resolver;
  /** The range of an address; defaults to {@link classifyAddress}. Only `public` may be fetched. */
  readonly classify?: (address: string) => string;
}

/**
 * The range an address falls in, as `ipaddr.js` names them (`loopback`,
 * `private`, `linkLocal`, `uniqueLocal`, `carrierGradeNat`, `unspecified`,
 * `multicast`, `broadcast`, `reserved`, …), plus `metadata` for cloud metadata
 * endpoints, `ipv4Compatible` for the deprecated `::a.b.c.d` form, and
 * `public` for globally routable unicast. IPv4-mapped (`::ffff:a.b.c.d`) and
 * NAT64 (`64:ff9b::a.b.c.d`) addresses are classified as the IPv4 address they
 * carry, so an IPv6-only cluster behind DNS64 still reaches public sources.
 * 6to4 (`2002::/16`) and Teredo are refused whatever they carry.
 */
export function classifyAddress(address: string): string {
  const parsed = ipaddr.process(withHexTail(stripBrackets(address)));
  if (METADATA_ADDRESSES.has(parsed.toNormalizedString())) return 'metadata';
  const range = parsed.range();
  if (parsed.kind() === 'ipv6' && range !== 'unspecified' && range !== 'loopback') {
    const parts = (parsed as ipaddr.IPv6).parts;
    if (NAT64_PREFIX.every((part, index) => parts[index] === part)) return classifyAddress(ipv4Of(parts));
    if (parts.slice(0, 6).every((part) => part === 0)) return 'ipv4Compatible';
  }
  return range === 'unicast' ? 'public' : range;
}

/**
 * `::a.b.c.d` → `::xxxx:yyyy`, as the URL parser and the kernel read it:
 * `ipaddr.js` would read it as the IPv4-mapped `::ffff:a.b.c.d`.
 */
function withHexTail(address: string): string {
  return address.includes(':') && address.includes('.') ? stripBrackets(new URL(`http://[${address}]/`).hostname) : address;
}

/** The well-known NAT64 prefix `64:ff9b::/96` (RFC 6052), as the first six 16-bit parts. */
const NAT64_PREFIX = [0x64, 0xff9b, 0, 0, 0, 0];

/** The IPv4 address in the last 32 bits of an IPv6 address. */
function ipv4Of(parts: readonly number[]): string {
  const [high, low] = [parts[6]!, parts[7]!];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === 'public';
}

const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254'].map((a) => ipaddr.parse(a).toNormalizedString()));

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * The outbound URL policy (docs/architecture.md, "Downloads and the outbound URL policy"): only http and https;
 * unless private addresses are allowed or the host is on the allow-list, every
 * address the host resolves to must be public. A literal IP is checked without
 * DNS. Refusals are `PermanentError('URL_REFUSED')` and name the host only.
 */
export class UrlPolicy {
  private readonly allowPrivate: boolean;
  private readonly allowHosts: ReadonlySet<string>;
  private readonly resolve: Resolver;
  private readonly classify: (address: string) => string;

  constructor(options: UrlPolicyOptions) {
    this.allowPrivate = options.allowPrivate;
    this.allowHosts = new Set(options.allowHosts.map(normaliseAllowEntry));
    this.resolve = options.resolve ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
    this.classify = options.classify ?? classifyAddress;
  }

  /** True when `url`'s host (or host and port) is on the allow-list. */
  isAllowListed(url: URL): boolean {
    const host = hostOf(url);
    const port = url.port || DEFAULT_PORTS[url.protocol] || '';
    return this.allowHosts.has(host) || this.allowHosts.has(`${host}:${port}`);
  }

  /** Whether connections to `url`'s host must be held to checked addresses. */
  isRestricted(url: URL): boolean {
    return !this.allowPrivate && !this.isAllowListed(url);
  }

  /** Refuses `url` unless it may be fetched; resolves the host when the policy needs its addresses. */
  async check(url: URL): Promise<void> {
    if (!(url.protocol in DEFAULT_PORTS)) {
      throw new PermanentError('URL_REFUSED', `refused ${url.protocol} URL: only http and https are fetched`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new PermanentError('URL_REFUSED', `refused a URL with credentials for host ${url.hostname}`);
    }
    if (!this.isRestricted(url)) return;
    await this.checkedAddresses(hostOf(url));
  }

  /**
   * `hostname`'s addresses, every one of them public, or a `URL_REFUSED` error.
   * This is also the connector's lookup: the connection resolves again, and that
   * answer is checked too, so a name that changes its answer in between is refused.
   */
  async checkedAddresses(hostname: string): Promise<readonly LookupAddress[]> {
    const host = stripBrackets(hostname).toLowerCase();
    const family = isIP(host);
    const addresses = family !== 0 ? [{ address: host, family }] : await this.resolveHost(host);
    for (const { address } of addresses) {
      const range = this.classify(address);
      if (range !== 'public') {
        const how = family !== 0 ? 'is' : `resolves to ${address}, which is`;
        throw new PermanentError('URL_REFUSED', `refused host ${host}: it ${how} a ${range} address`);
      }
    }
    return addresses;
  }

  /** A `dns.lookup`-shaped function over {@link checkedAddresses}, for a connector's `lookup` option. */
  readonly lookup = (
    hostname: string,
    options: { all?: boolean },
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.checkedAddresses(hostname).then(
      (addresses) => {
        if (options.all) callback(null, [...addresses]);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: Error) => callback(error, ''),
    );
  };

  private async resolveHost(host: string): Promise<readonly LookupAddress[]> {
    let addresses: readonly LookupAddress[];
    try {
      addresses = await this.resolve(host);
    } catch (error) {
      throw dnsError(host, error);
    }
    if (addresses.length === 0) throw new TransientError('DNS_NOT_FOUND', `host ${host} has no address`);
    return addresses;
  }
}

/**
 * A failed lookup. `ENOTFOUND` is transient too: in compose or k8s a service
 * name is unknown until its container starts, and a bounded retry costs less
 * than dead-lettering every job of a slow start.
 */
export function dnsError(host: string, error: unknown): TransientError {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ENOTFOUND' || code === 'ENODATA') {
    return new TransientError('DNS_NOT_FOUND', `host ${host} is not known to DNS`, { cause: error });
  }
  return new TransientError('NETWORK', `could not resolve host ${host}: ${String(code ?? 'lookup failed')}`, { cause: error });
}

function hostOf(url: URL): string {
  return stripBrackets(url.hostname).toLowerCase().replace(/\.$/, '');
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, as `host` or `host:port`. */
function normaliseAllowEntry(entry: string): string {
  const value = entry.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed && isIP(bracketed[1]!) === 6) {
    const host = ipaddr.parse(bracketed[1]!).toString();
    return bracketed[2] ? `${host}:${bracketed[2]}` : host;
  }
  if (isIP(value) === 6) return ipaddr.parse(value).toString();
  return value.replace(/\.(?=:|$)/, '');
}
