// Browser walk-through of the administration page: an admin signs in on the
// console, opens Administration, adds a clinician, disables them, finds that
// in the audit trail, and downloads the trail as CSV. In the workbench the
// admin changes what the bot says about opening hours and publishes it; the
// next patient gets the new reply with no restart; the first version is made
// live again and the next patient gets the old one. Before publishing, the
// admin tries the question on the draft. A shared canned reply is added (one
// naming the patient is refused), and the dashboard counts the four
// patients' chats without a word they wrote. Then the new auditor
// signs in and lands on the audit trail, with no chat in sight. Every page
// shot is first checked by axe-core against WCAG 2.1 A and AA: the
// administration page, its audit trail, workbench and dashboard, the
// auditor's view and the two-factor set-up.
//
// Usage: node admin.mjs <base-url> <admin> <password> <screenshot-dir> <admin's TOTP secret>
// Prints one JSON line {"ok":true,...} and exits 0, or the error and exits 1.
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const WAIT = 30_000;
const [baseArg, username, password, shotArg, secret] = process.argv.slice(2);
if (!baseArg || !username || !password || !shotArg || !secret) {
  console.error('usage: node admin.mjs <base-url> <admin> <password> <screenshot-dir> <totp-secret>');
  process.exit(2);
}

// The code an authenticator app shows now (RFC 6238: HMAC-SHA1, 30 s, six digits).
function totp(base32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const d = createHmac('sha1', key).update(counter).digest();
  const o = d[19] & 15;
  return String((d.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}
const base = baseArg.replace(/\/+$/, '');
const shotDir = resolve(shotArg);
const screenshots = [];
const pageErrors = [];
let step = 'start';
let page;

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// Any violation of a WCAG 2.1 A or AA rule fails the walk, naming the rule
// and the elements.
async function axe(name) {
  const result = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  if (result.violations.length) {
    const said = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 5).map((n) => n.target.join(' > ')).join(', ')).join('\n  ');
    throw new Error(`axe found WCAG 2.1 AA violations on "${name}":\n  ${said}`);
  }
}

// A screenshot of the page as it is, checked by axe first.
async function shot(name) {
  if (!name.startsWith('failure')) await axe(name);
  const path = join(shotDir, name);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

async function signIn(name, pass, totpSecret) {
  await page.goto(base + '/console', { timeout: WAIT });
  await page.locator('[data-testid=login-username]').fill(name);
  await page.locator('[data-testid=login-password]').fill(pass);
  await page.locator('[data-testid=login-submit]').click();
  if (totpSecret) {
    // The password was right; the console asks for the second factor.
    await page.locator('[data-testid=login-totp]:visible').fill(totp(totpSecret));
    await page.locator('[data-testid=login-submit]').click();
  }
}

// A new patient's first bot reply to `question`, through the widget on the
// clinic's page (a fresh browser context: a new conversation).
async function ask(browser, question) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  try {
    const p = await ctx.newPage();
    p.setDefaultTimeout(WAIT);
    p.on('pageerror', (err) => pageErrors.push('patient: ' + err.message));
    await p.goto(base + '/', { timeout: WAIT });
    const w = (sel) => p.locator('#carechat-widget ' + sel);
    await w('[data-testid=launcher]').click();
    const bot = w('[data-testid=message][data-from=bot]');
    await bot.first().waitFor();
    await w('[data-testid=agree]').click();
    await w('[data-testid=send]:enabled').waitFor();
    await w('[data-testid=input]').fill(question);
    await w('[data-testid=send]').click();
    await bot.nth(1).waitFor();
    return await bot.nth(1).locator('p').textContent();
  } finally {
    await ctx.close();
  }
}

async function main() {
  mkdirSync(shotDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    page = await ctx.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // Confirmations ("Disable nora?") are accepted.
    page.on('dialog', (d) => d.accept());

    step = 'admin: sign in with a second factor and open Administration';
    await signIn(username, password, secret);
    await page.locator('[data-testid=to-admin]:visible').click();
    await page.waitForURL(base + '/admin');
    const users = page.locator('[data-testid=users]');
    await users.locator(`tr[data-user="${username}"]`).waitFor();

    step = 'admin: a weak password is refused with the reason';
    await page.locator('#new-username').fill('nora');
    await page.locator('#new-display').fill('Nora (RN)');
    await page.locator('#new-skills').fill('nursing');
    await page.locator('#new-password').fill('password1234');
    await page.locator('[data-testid=add-user] button[type=submit]').click();
    await page.locator('[data-testid=banner]').filter({ hasText: /common passwords/ }).waitFor();

    step = 'admin: add a clinician';
    await page.locator('#new-password').fill('silver birch at noon');
    await page.locator('[data-testid=add-user] button[type=submit]').click();
    const nora = users.locator('tr[data-user="nora"]');
    await nora.waitFor();
    if ((await nora.locator('[data-testid=user-state]').textContent()) !== 'active') {
      throw new Error('nora is not active');
    }
    await shot('admin-users.png');

    step = 'admin: disable the clinician';
    await nora.getByRole('button', { name: 'Disable' }).click();
    await nora.locator('[data-testid=user-state]').filter({ hasText: 'disabled' }).waitFor();

    step = 'admin: add an auditor';
    await page.locator('#new-username').fill('otto');
    await page.locator('#new-role').selectOption('auditor');
    await page.locator('#new-skills').fill('');
    await page.locator('#new-password').fill('ledger of quiet days');
    await page.locator('[data-testid=add-user] button[type=submit]').click();
    await users.locator('tr[data-user="otto"]').waitFor();

    step = 'admin: find the disabling in the audit trail';
    await page.locator('#f-action').selectOption('user_disable');
    await page.locator('[data-testid=audit-filter] button[type=submit]').click();
    const rows = page.locator('[data-testid=audit] tbody tr');
    await rows.filter({ hasText: 'user:nora' }).first().waitFor();
    if ((await rows.count()) !== 1) throw new Error('expected one user_disable line');
    await shot('admin-audit.png');

    step = 'admin: export the trail as CSV';
    const href = await page.locator('[data-testid=export-csv]').getAttribute('href');
    if (!href.includes('action=user_disable')) throw new Error('the export ignores the filter: ' + href);
    const csv = await page.request.get(base + href);
    if (!csv.ok()) throw new Error('export failed: ' + csv.status());
    const text = await csv.text();
    const lines = text.trim().split(/\r?\n/);
    if (lines[0] !== 'id,at,actor_id,actor,action,subject,detail,address' || lines.length !== 2
      || !lines[1].includes('user_disable,user:nora')) {
      throw new Error('unexpected CSV: ' + text);
    }

    step = 'admin: change what the bot says about opening hours';
    const QUESTION = 'what time do you open on saturday?';
    const before = await ask(browser, QUESTION);
    const bench = page.locator('[data-testid=workbench]');
    await bench.locator('tr[data-intent="opening_hours"]').waitFor();
    await page.locator('[data-testid=bench-search]').fill('opening hours');
    const row = bench.locator('tr[data-intent="opening_hours"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    const NEW = 'Saturday hours changed: we now open at 7:00 and close at 13:00.';
    await page.locator('[data-testid=bench-replies]').fill('en: ' + NEW);
    await page.locator('[data-testid=bench-save]').click();
    await page.locator('[data-testid=bench-status]').filter({ hasText: /Showing the draft/ }).waitFor();
    await row.filter({ hasText: NEW }).waitFor();
    if ((await ask(browser, QUESTION)) !== before) throw new Error('a draft reached a patient');

    step = 'admin: try the question on the draft before publishing';
    await page.locator('[data-testid=bench-try-text]').fill(QUESTION);
    await page.locator('[data-testid=bench-try] button[type=submit]').click();
    await page.locator('[data-testid=bench-tried-reply]').filter({ hasText: NEW }).waitFor({ timeout: 600_000 });
    const decision = await page.locator('[data-testid=bench-decision]').textContent();
    if (!/^Answers: .*\(opening_hours\), confidence \d+%.*\[draft, en\]$/.test(decision)) {
      throw new Error('unexpected decision: ' + decision);
    }

    step = 'admin: publish through the evaluation gate';
    await page.locator('[data-testid=bench-publish]').click();
    await page.locator('[data-testid=bench-verdict]').filter({ hasText: /^Published/ })
      .waitFor({ timeout: 600_000 });
    await page.locator('[data-testid=bench-versions] tr[data-version="2"]').filter({ hasText: 'live' }).waitFor();
    await shot('admin-workbench.png');

    step = 'patient: the next patient gets the new reply, with no restart';
    const after = await ask(browser, QUESTION);
    if (after !== NEW) throw new Error('the new reply did not reach a patient: ' + after);

    step = 'admin: make the first version live again';
    await page.locator('[data-testid=bench-versions] tr[data-version="1"]')
      .getByRole('button', { name: 'Make live again' }).click();
    await page.locator('[data-testid=bench-report]').filter({ hasText: /live again/ })
      .waitFor({ timeout: 600_000 });
    const back = await ask(browser, QUESTION);
    if (back !== before) throw new Error('the first reply did not come back: ' + back);

    step = 'admin: add a shared canned reply; one holding a patient\'s name is refused';
    await page.locator('[data-testid=canned-title]').fill('Parking');
    await page.locator('[data-testid=canned-body]').fill('Parking is free behind {clinic}.');
    await page.locator('[data-testid=canned-add]').click();
    await page.locator('[data-testid=canned-rows] tr').filter({ hasText: 'Parking is free' }).waitFor();
    await page.locator('[data-testid=canned-title]').fill('Bad');
    await page.locator('[data-testid=canned-body]').fill('Dear {patient}, see you soon.');
    await page.locator('[data-testid=canned-add]').click();
    await page.locator('[data-testid=banner]').filter({ hasText: '{patient}' }).waitFor();

    step = 'admin: the dashboard counts the patients\' chats and shows none of their words';
    await page.locator('[data-testid=dash-bucket]').selectOption('hour');
    await page.locator('#dash-filter button[type=submit]').click();
    // Four patients asked the hours question, and the bot answered each.
    const totals = page.locator('[data-testid=dash-totals] tbody tr td');
    await page.waitForFunction(() => {
      const cells = document.querySelectorAll('#dash-totals td');
      return cells.length > 1 && cells[0].textContent === '4' && cells[1].textContent === '4';
    }).catch(async (e) => {
      throw new Error(e.message + '; the totals read "' + await page.locator('#dash-totals').textContent() +
        '", the banner "' + await page.locator('#banner-text').textContent() + '"');
    });
    if ((await totals.count()) !== 9) throw new Error('the totals row has ' + (await totals.count()) + ' cells');
    await page.locator('[data-testid=dash-intents] tbody tr').filter({ hasText: 'opening_hours' }).waitFor();
    await page.locator('[data-testid=dash-chart] svg rect').first().waitFor();
    const dash = await page.locator('[data-testid=dashboard]').textContent();
    if (/saturday/i.test(dash)) throw new Error('a patient\'s words are on the dashboard');
    await shot('admin-dashboard.png');
    const dashCsv = await page.request.get(base + await page.locator('[data-testid=dash-csv]').getAttribute('href'));
    if (!dashCsv.ok()) throw new Error('the dashboard CSV failed: ' + dashCsv.status());
    const dashText = await dashCsv.text();
    const dashLines = dashText.trim().split('\n');
    if (!dashLines[0].startsWith('start,chats,answered,escalated,') || dashLines.length < 25) {
      throw new Error('unexpected dashboard CSV: ' + dashText);
    }
    const counted = dashLines.slice(1).reduce((n, l) => n + Number(l.split(',')[1]), 0);
    if (counted !== 4 || /saturday/i.test(dashText)) throw new Error('unexpected dashboard CSV: ' + dashText);

    step = 'admin: log out';
    await page.locator('#logout').click();
    await page.waitForURL(base + '/console');

    step = 'auditor: sign in and land on the audit trail';
    await signIn('otto', 'ledger of quiet days');
    await page.waitForURL(base + '/admin');
    await page.locator('[data-testid=audit] tbody tr').first().waitFor();
    if (await page.locator('#users-section').isVisible()) throw new Error('an auditor sees accounts');
    const chats = await page.request.get(base + '/api/conversations');
    if (chats.status() !== 403) throw new Error('an auditor read the queue: ' + chats.status());
    await shot('admin-auditor.png');

    step = 'auditor: set up two-factor sign-in from the QR code page';
    await page.locator('#mfa-start').click();
    const qr = page.locator('[data-testid=mfa-qr]');
    await qr.waitFor();
    await page.waitForFunction(() => {
      const img = document.getElementById('mfa-qr');
      return img.complete && img.naturalWidth > 0;
    });
    const ottoSecret = (await page.locator('[data-testid=mfa-secret]').textContent()).trim();
    await page.locator('#mfa-code').fill(totp(ottoSecret));
    await page.locator('#mfa-confirm button[type=submit]').click();
    const codes = page.locator('[data-testid=mfa-codes]');
    await codes.waitFor();
    const recovery = (await codes.textContent()).trim().split('\n');
    if (recovery.length !== 10) throw new Error('expected ten recovery codes: ' + recovery);
    await shot('admin-mfa.png');

    if (pageErrors.length) throw new Error('JavaScript errors on the page: ' + pageErrors.join(' | '));
  } catch (err) {
    if (page) await shot('failure-admin.png').catch(() => {});
    throw err;
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
  console.error(`admin flow failed at step "${step}": ${clean(err && err.stack ? err.stack : err)}`);
  if (pageErrors.length) console.error('page errors: ' + pageErrors.join(' | '));
  console.log(JSON.stringify({ ok: false, step, error: clean(err && err.message || err), screenshots }));
  process.exit(1);
}
