// Browser walk-through of single sign-on: on the console's sign-in page a
// clinician chooses "Sign in with single sign-on", signs in at the clinic's
// identity provider (oidc.mjs, a real OpenID provider), consents, and lands
// in the console as the account the provider's claims describe. Someone the
// provider gives no Carechat role is sent back to the sign-in page, told why.
//
// Usage: node sso.mjs <base-url> <person> <password> <screenshot-dir> <person without a role>
// Prints one JSON line {"ok":true,...} and exits 0, or the error and exits 1.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const WAIT = 30_000;
const [baseArg, person, password, shotArg, stranger] = process.argv.slice(2);
if (!baseArg || !person || !password || !shotArg || !stranger) {
  console.error('usage: node sso.mjs <base-url> <person> <password> <screenshot-dir> <person-without-role>');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const shotDir = resolve(shotArg);
const screenshots = [];
const pageErrors = [];
let step = 'start';

async function shot(page, name) {
  const path = join(shotDir, name);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

// Signs `who` in at the provider from the console's button, in a fresh
// browser (no session at the provider yet).
async function viaProvider(browser, who) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => { if (page.url().startsWith(base)) pageErrors.push(String(e)); });
  await page.goto(base + '/console', { timeout: WAIT });
  const button = page.locator('[data-testid=login-sso]');
  await button.waitFor({ timeout: WAIT });
  await button.click();
  // The provider's own sign-in page.
  await page.locator('input[name=login]').fill(who, { timeout: WAIT });
  await page.locator('input[name=password]').fill(password);
  await page.locator('button[type=submit]').click();
  // Its consent page: Carechat asks for the profile and the groups.
  await page.locator('button[type=submit]').click({ timeout: WAIT });
  await page.waitForURL((url) => url.href.startsWith(base + '/console'), { timeout: WAIT });
  return { context, page };
}

async function main() {
  mkdirSync(shotDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  try {
    step = 'sign in through the provider';
    const { context, page } = await viaProvider(browser, person);
    step = 'the console as the provider describes them';
    const name = page.locator('[data-testid=me-name]');
    await name.waitFor({ state: 'visible', timeout: WAIT });
    await page.waitForFunction(
      () => document.querySelector('[data-testid=me-name]').textContent.includes('Dr Ada Byron'),
      null, { timeout: WAIT });
    const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
    if (me.role !== 'clinician') throw new Error('expected a clinician, got ' + JSON.stringify(me));
    await shot(page, 'sso-console.png');
    step = 'log out';
    await page.locator('[data-testid=logout]').click();
    await page.locator('[data-testid=login-sso]').waitFor({ timeout: WAIT });
    await context.close();

    step = 'someone without a Carechat role';
    const refused = await viaProvider(browser, stranger);
    const error = refused.page.locator('[data-testid=login-error]');
    await error.waitFor({ state: 'visible', timeout: WAIT });
    const text = await error.textContent();
    if (!/no Carechat role/.test(text)) throw new Error('unexpected message: ' + text);
    const who = await refused.page.evaluate(async () => (await fetch('/api/me')).status);
    if (who !== 401) throw new Error('someone without a role got a session: ' + who);
    await shot(refused.page, 'sso-refused.png');
    await refused.context.close();

    if (pageErrors.length) throw new Error('JavaScript errors on the page: ' + pageErrors.join(' | '));
  } finally {
    await browser.close().catch(() => {});
  }
}

try {
  await main();
  console.log(JSON.stringify({ ok: true, screenshots }));
  process.exit(0);
} catch (err) {
  const clean = (t) => String(t).replace(/\u001b\[[0-9;]*m/g, '');
  console.error(`sso flow failed at step "${step}": ${clean(err && err.stack ? err.stack : err)}`);
  console.log(JSON.stringify({ ok: false, step, error: clean(err && err.message || err), screenshots }));
  process.exit(1);
}
