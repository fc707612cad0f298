// A real OpenID provider for the single sign-on test: npm's oidc-provider,
// with its development sign-in pages (any password is accepted for the
// people below) and one client, Carechat.
//
// Usage: node oidc.mjs <port> <carechat's redirect URL> <client secret>
// Prints "ready <issuer>" once it listens; runs until killed.
import Provider from 'oidc-provider';

const [port, redirect, secret] = process.argv.slice(2);
if (!port || !redirect || !secret) {
  console.error('usage: node oidc.mjs <port> <redirect-url> <client-secret>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// The people at the clinic's identity provider, and their groups.
const people = {
  'dr-ada': { name: 'Dr Ada Byron', groups: ['staff', 'carechat-clinician'], carechat_skills: ['nursing', 'billing'] },
  'chief': { name: 'Chief Admin', groups: ['carechat-admin'] },
  'visitor': { name: 'A Visitor', groups: ['staff'] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'carechat',
    client_secret: secret,
    redirect_uris: [redirect],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'profile', 'carechat'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    carechat: ['groups', 'carechat_skills'],
  },
  pkce: { required: () => true },
  cookies: { keys: ['a cookie key for this test only'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...(people[id] || { name: id, groups: [] }) };
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
