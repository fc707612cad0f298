-- Single sign-on (OpenID Connect): an account made or claimed by a sign-in
-- at the clinic's identity provider is tied to the provider's subject
-- (`issuer subject`), never to a name the provider may give someone else.
ALTER TABLE users ADD COLUMN sso_subject TEXT;
CREATE UNIQUE INDEX users_sso_subject ON users (sso_subject) WHERE sso_subject IS NOT NULL;
