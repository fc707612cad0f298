// Browser walk-through of Carechat: a patient chats through the widget on the demo
// clinic page, a clinician takes the chat in the console and replies.
//
// Usage: node flow.mjs <base-url> <username> <password> <screenshot-dir>
// Prints one JSON line {"ok":true,"screenshots":[...]} and exits 0, or prints the
// error and exits 1.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const WAIT = 30_000;
const [baseArg, username, password, shotArg] = process.argv.slice(2);
if (!baseArg || !username || !password || !shotArg) {
  console.error('usage: node flow.mjs <base-url> <username> <password> <screenshot-dir>');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const shotDir = resolve(shotArg);
const screenshots = [];
const pageErrors = [];
let step = 'start';
const pages = {};

async function shot(page, name) {
  const path = join(shotDir, name);
  await page.screenshot({ path });
  screenshots.push(path);
}

function watch(page, label) {
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
}

async function main() {
  mkdirSync(shotDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // ---------- patient ----------
    step = 'patient: open the clinic page';
    const patientCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const patient = await patientCtx.newPage();
    patient.setDefaultTimeout(WAIT);
    watch(patient, 'patient');
    pages.patient = patient;
    await patient.goto(base + '/', { timeout: WAIT });

    // Playwright's CSS locators pierce the widget's open shadow root.
    const w = (sel) => patient.locator('#carechat-widget ' + sel);
    const botMessages = w('[data-testid=message][data-from=bot]');

    step = 'patient: open the widget';
    await w('[data-testid=launcher]').click();
    step = 'patient: wait for the welcome message';
    await botMessages.first().waitFor({ timeout: WAIT });
    step = 'patient: the clinic\'s consent note comes first, and nothing can be sent before it';
    const consent = w('[data-testid=consent]');
    await consent.filter({ hasText: /not for emergencies.*911/ }).waitFor({ timeout: WAIT });
    if (!(await w('[data-testid=send]').isDisabled()) || !(await w('[data-testid=input]').isDisabled())) {
      throw new Error('the reply box is usable before consent');
    }
    await shot(patient, 'widget-consent.png');
    await w('[data-testid=agree]').click();
    await consent.waitFor({ state: 'hidden', timeout: WAIT });
    await w('[data-testid=send]:enabled').waitFor({ timeout: WAIT });

    step = 'patient: ask for the Saturday hours';
    const before = await botMessages.count();
    await w('[data-testid=input]').fill('what time do you open on saturday?');
    await w('[data-testid=send]').click();
    step = 'patient: wait for a bot reply about Saturday';
    await botMessages.nth(before).waitFor({ timeout: WAIT });
    await botMessages.filter({ hasText: /saturday/i }).last().waitFor({ timeout: WAIT });

    step = 'patient: ask for test results';
    await w('[data-testid=input]').fill('I need my blood test results, my name is John Smith');
    await w('[data-testid=send]').click();
    step = 'patient: wait for the waiting/chatting status';
    await w('[data-testid=status]').filter({ hasText: /waiting|queued|chatting|message left/i }).waitFor({ timeout: WAIT });
    await shot(patient, 'widget.png');
    const conversation = await patient.evaluate(() => sessionStorage.getItem('carechat.conversation'));

    // ---------- clinician ----------
    step = 'clinician: open the console';
    const staffCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const staff = await staffCtx.newPage();
    staff.setDefaultTimeout(WAIT);
    watch(staff, 'console');
    pages.console = staff;
    await staff.goto(base + '/console', { timeout: WAIT });

    step = 'clinician: log in';
    await staff.locator('[data-testid=login-username]').fill(username);
    await staff.locator('[data-testid=login-password]').fill(password);
    await staff.locator('[data-testid=login-submit]').click();
    const loginError = staff.locator('[data-testid=login-error]');
    await staff.locator('[data-testid=availability]:visible, [data-testid=login-error]:visible').first()
      .waitFor({ timeout: WAIT });
    if (await loginError.isVisible()) throw new Error('login failed: ' + (await loginError.textContent()));

    step = 'clinician: wait for the queue item';
    const item = conversation
      ? staff.locator(`[data-testid=queue-item][data-conversation="${conversation}"]`)
      : staff.locator('[data-testid=queue-item]').first();
    await item.waitFor({ timeout: WAIT });
    await shot(staff, 'console-queue.png');

    step = 'clinician: open the chat';
    await item.click();
    const id = await item.getAttribute('data-conversation');
    const chat = staff.locator(`[data-testid=chat][data-conversation="${id}"]`);
    await chat.waitFor({ timeout: WAIT });
    // The router may already have given the chat to this clinician; take it only if it waits.
    if ((await chat.getAttribute('data-state')) === 'queued') {
      step = 'clinician: take the chat';
      await staff.locator('[data-testid=take]').click();
    }
    step = 'clinician: wait until the chat is ours';
    await staff.locator('[data-testid=reply-input]:enabled').waitFor({ timeout: WAIT });

    step = 'clinician: reply';
    await staff.locator('[data-testid=reply-input]').fill('Hello, this is the nurse. I can help with your results.');
    await staff.locator('[data-testid=reply-send]').click();
    await staff.locator('[data-testid=history] [data-testid=history-message][data-from=clinician]')
      .filter({ hasText: 'this is the nurse' }).first().waitFor({ timeout: WAIT });
    await shot(staff, 'console-chat.png');

    step = 'clinician: add a canned reply of their own';
    await staff.locator('[data-testid=my-canned] summary').click();
    await staff.locator('[data-testid=my-canned-title]').fill('Results call');
    await staff.locator('[data-testid=my-canned-body]').fill('Your results are ready. {clinician} will call you today.');
    await staff.locator('[data-testid=my-canned-add]').click();
    await staff.locator('[data-testid=my-canned-list]').filter({ hasText: 'Results call' }).waitFor({ timeout: WAIT });

    step = 'clinician: a reply naming the patient is refused';
    await staff.locator('[data-testid=my-canned-title]').fill('Bad');
    await staff.locator('[data-testid=my-canned-body]').fill('Dear {patient}, your results are ready.');
    await staff.locator('[data-testid=my-canned-add]').click();
    await staff.locator('[data-testid=my-canned-error]').filter({ hasText: '{patient}' }).waitFor({ timeout: WAIT });

    step = 'clinician: "/" then Enter puts the reply in the box, Enter sends it';
    const box = staff.locator('[data-testid=reply-input]');
    await box.fill('');
    await box.focus();
    await staff.keyboard.press('/');
    await staff.locator('[data-testid=canned-option]').filter({ hasText: 'Results call' }).waitFor({ timeout: WAIT });
    if ((await box.getAttribute('aria-expanded')) !== 'true') throw new Error('the picker is not announced as open');
    await staff.keyboard.press('Enter');
    const filled = await box.inputValue();
    if (!/^Your results are ready\. \S.* will call you today\.$/.test(filled) || filled.includes('{')) {
      throw new Error('the canned reply was not filled in: ' + filled);
    }
    await shot(staff, 'console-canned.png');
    await staff.keyboard.press('Enter');
    await w('[data-testid=message][data-from=clinician]').filter({ hasText: filled })
      .first().waitFor({ timeout: WAIT });

    step = 'clinician: after a reload the history shows what the patient typed';
    await staff.reload({ timeout: WAIT });
    await staff.locator(`[data-testid=queue-item][data-conversation="${id}"]`).click({ timeout: WAIT });
    await staff.locator('[data-testid=history] [data-testid=history-message][data-from=patient]')
      .filter({ hasText: 'my name is John Smith' }).first().waitFor({ timeout: WAIT });

    // ---------- patient sees the reply ----------
    step = 'patient: wait for the clinician reply';
    await w('[data-testid=message][data-from=clinician]').filter({ hasText: 'this is the nurse' })
      .first().waitFor({ timeout: WAIT });
    await shot(patient, 'widget-reply.png');

    // ---------- a reload keeps the conversation ----------
    step = 'patient: reload the page and reopen the widget';
    await patient.reload({ timeout: WAIT });
    await w('[data-testid=launcher]').click();
    step = 'patient: the replayed conversation shows the reply and the question as typed';
    await w('[data-testid=message][data-from=clinician]').filter({ hasText: 'this is the nurse' })
      .first().waitFor({ timeout: WAIT });
    // Stored redacted, with the words as typed sealed beside them: the
    // patient reads their own words back.
    await w('[data-testid=message][data-from=patient]').filter({ hasText: 'my name is John Smith' })
      .first().waitFor({ timeout: WAIT });
    await w('[data-testid=status]').filter({ hasText: /chatting/i }).waitFor({ timeout: WAIT });
    await shot(patient, 'widget-reload.png');

    // ---------- transcripts ----------
    const saved = async (download) => readFileSync(await download.path(), 'utf8');
    const holds = (text, what, ...parts) => {
      for (const p of parts) if (!text.includes(p)) throw new Error(`${what} lacks "${p}"`);
    };
    step = 'clinician: download the transcript for the chart';
    const [practice] = await Promise.all([staff.waitForEvent('download'),
      staff.locator('[data-testid=transcript]').click()]);
    holds(await saved(practice), 'the practice transcript', 'Chat transcript', 'my name is John Smith',
      'this is the nurse');
    if (!practice.suggestedFilename().endsWith('.html')) throw new Error('named ' + practice.suggestedFilename());

    step = 'clinician: make a one-time link for the patient';
    // The prompt showing the link is read and dismissed as it opens: a
    // click whose page opens a dialog does not finish until the dialog is
    // handled, so waiting for the click first could hang.
    const link = await new Promise((resolve, reject) => {
      staff.once('dialog', (dialog) => {
        const value = dialog.defaultValue();
        dialog.dismiss().then(() => resolve(value), reject);
      });
      staff.locator('[data-testid=transcript-link]').click().catch(reject);
    });
    if (!/\/transcript#[0-9a-f]{64}$/.test(link)) throw new Error('not a transcript link: ' + link);

    step = 'clinician: close the chat';
    await staff.locator('[data-testid=close]').click();

    step = 'patient: the closed chat offers the transcript';
    await w('[data-testid=transcript]').waitFor({ timeout: WAIT });
    await shot(patient, 'widget-closed.png');
    const [mine] = await Promise.all([patient.waitForEvent('download'), w('[data-testid=transcript]').click()]);
    holds(await saved(mine), "the patient's transcript", 'Your chat transcript', 'my name is John Smith',
      'this is the nurse');

    step = 'patient: open the one-time link';
    const linkPage = await patientCtx.newPage();
    watch(linkPage, 'link');
    pages.link = linkPage;
    await linkPage.goto(link, { timeout: WAIT });
    if (linkPage.url().includes('#')) throw new Error('the token stayed in the address bar');
    const [viaLink] = await Promise.all([linkPage.waitForEvent('download'),
      linkPage.locator('[data-testid=get]').click()]);
    holds(await saved(viaLink), 'the linked transcript', 'Your chat transcript', 'my name is John Smith');
    await linkPage.locator('#said').filter({ hasText: /no longer works/ }).waitFor({ timeout: WAIT });

    step = 'patient: the link works only once';
    const again = await patientCtx.newPage();
    watch(again, 'link again');
    pages.again = again;
    await again.goto(link, { timeout: WAIT });
    await again.locator('[data-testid=get]').click();
    await again.locator('#said').filter({ hasText: /used already/ }).waitFor({ timeout: WAIT });
    await shot(again, 'transcript-link-used.png');

    if (pageErrors.length) throw new Error('JavaScript errors on the pages: ' + pageErrors.join(' | '));
  } catch (err) {
    // Keep what the pages showed when it went wrong.
    for (const [name, page] of Object.entries(pages)) {
      await shot(page, `failure-${name}.png`).catch(() => {});
    }
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
  console.error(`flow failed at step "${step}": ${clean(err && err.stack ? err.stack : err)}`);
  if (pageErrors.length) console.error('page errors: ' + pageErrors.join(' | '));
  console.log(JSON.stringify({ ok: false, step, error: clean(err && err.message || err), screenshots }));
  process.exit(1);
}
