/**
 * Credentials that live in files and change under us: OIDC tokens are refreshed by an external
 * agent and x509 proxies are renewed every few hours. We stat the file on every call (cheap) and
 * re-read it only when its mtime or size changed, so a renewal is picked up on the very next call
 * without a restart and without reading the file each time.
 *
 * Every secret value seen is remembered by the Redactor so it can be scrubbed from any text that
 * might leave the process (error messages, log fields).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { PandaError } from './errors';

const REDACTED = '[redacted]';

/** Cuts known secrets, bearer headers and PEM blocks out of text. */
export class Redactor {
  private readonly secrets = new Set<string>();

  remember(secret: string): void {
    // Very short strings would blank out ordinary words; real tokens are long.
    if (secret.length >= 6) this.secrets.add(secret);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    out = out.replace(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, REDACTED);
    out = out.replace(/\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi, `Bearer ${REDACTED}`);
    return out;
  }
}

interface Cached {
  mtimeMs: number;
  size: number;
  content: Buffer;
}

/** A file whose content is re-read when it changes on disk. */
export class WatchedFile {
  private cached: Cached | undefined;

  constructor(
    readonly path: string,
    private readonly what: string,
    private readonly redactor: Redactor,
  ) {}

  async read(endpoint: string): Promise<Buffer> {
    try {
      const st = await stat(this.path);
      const c = this.cached;
      if (c && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.content;
      const content = await readFile(this.path);
      this.cached = { mtimeMs: st.mtimeMs, size: st.size, content };
      this.redactor.remember(content.toString('utf8').trim());
      return content;
    } catch (err) {
      // The path is configuration, not a secret; the content never reaches this message.
      const code = (err as NodeJS.ErrnoException).code;
      throw new PandaError({
        kind: 'auth',
        endpoint,
        message: `PanDA ${endpoint}: cannot read ${this.what} file ${this.path} (${code ?? 'error'})`,
        causeCode: code,
      });
    }
  }
}

export interface AuthOptions {
  /**
   * Bearer token: a literal, or `file:/path` (Harvester's `auth_token` syntax). Prefer tokenFile;
   * a literal is for tests and ad-hoc use.
   */
  token?: string;
  /** Path of a file holding the bearer token; re-read when it changes. */
  tokenFile?: string;
  /** `Origin` header sent with the token: `<vo>` or `<vo>:<role>`, e.g. `atlas:production`. */
  origin?: string;
  /** Client certificate (x509 proxy) PEM file; the proxy file usually also holds the key. */
  certFile?: string;
  /** Client key PEM file; defaults to certFile (a grid proxy holds both). */
  keyFile?: string;
  /** CA bundle file for the server certificate. */
  caFile?: string;
  /** Directory of CA certificates (grid style, e.g. /etc/grid-security/certificates). */
  caPath?: string;
}

export interface ResolvedAuth {
  headers: Record<string, string>;
  tls: { cert?: Buffer; key?: Buffer; ca?: Buffer[] };
}

/** Builds headers and TLS material for each call from the (possibly changing) credential files. */
export class AuthProvider {
  private readonly tokenFile: WatchedFile | undefined;
  private readonly literalToken: string | undefined;
  private readonly certFile: WatchedFile | undefined;
  private readonly keyFile: WatchedFile | undefined;
  private readonly caFile: WatchedFile | undefined;
  private caDirCache: { key: string; certs: Buffer[] } | undefined;

  constructor(
    private readonly opts: AuthOptions,
    redactor: Redactor,
  ) {
    const tokenPath = opts.tokenFile ?? (opts.token?.startsWith('file:') ? opts.token.slice(5) : undefined);
    if (tokenPath) this.tokenFile = new WatchedFile(tokenPath, 'token', redactor);
    else if (opts.token) {
      this.literalToken = opts.token.trim();
      redactor.remember(this.literalToken);
    }
    if (opts.certFile) this.certFile = new WatchedFile(opts.certFile, 'certificate', redactor);
    const keyPath = opts.keyFile ?? opts.certFile;
    if (keyPath) this.keyFile = new WatchedFile(keyPath, 'key', redactor);
    if (opts.caFile) this.caFile = new WatchedFile(opts.caFile, 'CA', redactor);
  }

  async resolve(endpoint: string): Promise<ResolvedAuth> {
    const headers: Record<string, string> = {};
    let token = this.literalToken;
    if (this.tokenFile) token = (await this.tokenFile.read(endpoint)).toString('utf8').trim();
    if (token !== undefined) {
      if (token === '') {
        throw new PandaError({
          kind: 'auth',
          endpoint,
          message: `PanDA ${endpoint}: the bearer token is empty${this.tokenFile ? ` (file ${this.tokenFile.path})` : ''}`,
        });
      }
      headers.authorization = `Bearer ${token}`;
      if (this.opts.origin) headers.origin = this.opts.origin;
    }
    const tls: ResolvedAuth['tls'] = {};
    if (this.certFile) tls.cert = await this.certFile.read(endpoint);
    if (this.keyFile) tls.key = await this.keyFile.read(endpoint);
    const ca: Buffer[] = [];
    if (this.caFile) ca.push(await this.caFile.read(endpoint));
    if (this.opts.caPath) ca.push(...(await this.readCaDir(this.opts.caPath, endpoint)));
    if (ca.length > 0) tls.ca = ca;
    return { headers, tls };
  }

  /** All *.pem / *.0 style files of a CA directory; cached until the directory listing changes. */
  private async readCaDir(dir: string, endpoint: string): Promise<Buffer[]> {
    try {
      const names = (await readdir(dir)).filter((n) => /\.(pem|crt|\d+)$/.test(n)).sort();
      const key = names.join('\n');
      if (this.caDirCache?.key === key) return this.caDirCache.certs;
      const certs = await Promise.all(names.map((n) => readFile(`${dir}/${n}`)));
      this.caDirCache = { key, certs };
      return certs;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new PandaError({
        kind: 'auth',
        endpoint,
        message: `PanDA ${endpoint}: cannot read CA directory ${dir} (${code ?? 'error'})`,
        causeCode: code,
      });
    }
  }
}
