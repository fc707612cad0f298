// Browser walk-through of the offline contact form: nobody is online, so a
// patient (who answered the clinic's intake questions) leaves their number
// and closes the tab; a clinician signs in
// later, finds it on the "Left a message" list with the number as typed,
// answers in the chat and marks it done; the patient comes back to the site
// in a new tab and reads the answer.
//
// Usage: node contact.mjs <base-url> <username> <password> <screenshot-dir>
// Prints one JSON line {"ok":true,"screenshots":[...]} and exits 0, or prints the
// error and exits 1.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const WAIT = 30_000;
const [baseArg, username, password, shotArg] = process.argv.slice(2);
if (!baseArg || !username || !password || !shotArg) {
  console.error('usage: node contact.mjs <base-url> <username> <password> <screenshot-dir>');
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
    // ---------- the patient, with nobody online ----------
    step = 'patient: open the clinic page and the widget';
    const patientCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
    const patient = await patientCtx.newPage();
    patient.setDefaultTimeout(WAIT);
    watch(patient, 'patient');
    pages.patient = patient;
    await patient.goto(base + '/', { timeout: WAIT });
    const w = (sel) => patient.locator('#carechat-widget ' + sel);
    await w('[data-testid=launcher]').click();
    await w('[data-testid=agree]').click();
    await w('[data-testid=send]:enabled').waitFor({ timeout: WAIT });

    step = 'patient: answer the clinic\'s intake questions';
    const intake = w('[data-testid=intake-form]');
    await intake.waitFor({ state: 'visible', timeout: WAIT });
    await intake.getByLabel('Date of birth').fill('2999-01-01');
    await intake.getByRole('button', { name: 'Continue' }).click();
    await intake.getByRole('alert').filter({ hasText: /date of birth/ }).waitFor({ timeout: WAIT });
    await intake.getByLabel('Your name').fill('Zelda Quartermaine');
    await intake.getByLabel('Date of birth').fill('1984-03-09');
    await intake.getByLabel('Reason for your visit').fill('Blood test follow-up');
    await intake.getByRole('button', { name: 'Continue' }).click();
    await intake.waitFor({ state: 'hidden', timeout: WAIT });

    step = 'patient: ask for a person about test results';
    await w('[data-testid=input]').fill('I need my blood test results please');
    await w('[data-testid=send]').click();
    step = 'patient: the contact form appears';
    const form = w('[data-testid=contact-form]');
    await form.waitFor({ state: 'visible', timeout: WAIT });
    await w('[data-testid=status]').filter({ hasText: /message left/i }).waitFor({ timeout: WAIT });
    await shot(patient, 'widget-contact-form.png');

    step = 'patient: a mistyped number is refused, saying why';
    await form.getByLabel('Text message').check();
    await form.getByLabel('Mobile number').fill('call me');
    await form.getByRole('button', { name: 'Leave my details' }).click();
    await form.getByRole('alert').filter({ hasText: /phone number/ }).waitFor({ timeout: WAIT });

    step = 'patient: leave a number and a best time';
    await form.getByLabel('Mobile number').fill('+1 555 010 2030');
    await form.getByLabel(/Best time/).fill('weekday mornings');
    await form.getByRole('button', { name: 'Leave my details' }).click();
    await w('[data-testid=notice]').filter({ hasText: /get back to you/ }).waitFor({ timeout: WAIT });
    await form.waitFor({ state: 'hidden', timeout: WAIT });
    await shot(patient, 'widget-contact-left.png');
    step = 'patient: close the tab';
    await patient.close();
    delete pages.patient;

    // ---------- the next morning: a clinician ----------
    step = 'clinician: sign in';
    const staffCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    await staffCtx.grantPermissions(['notifications'], { origin: base });
    // Counts the console's alert sounds (each beep is an oscillator).
    await staffCtx.addInitScript(() => {
      window.__beeps = 0;
      const make = AudioContext.prototype.createOscillator;
      AudioContext.prototype.createOscillator = function () { window.__beeps++; return make.apply(this, arguments); };
    });
    const staff = await staffCtx.newPage();
    staff.setDefaultTimeout(WAIT);
    watch(staff, 'console');
    pages.console = staff;
    await staff.goto(base + '/console', { timeout: WAIT });
    await staff.locator('[data-testid=login-username]').fill(username);
    await staff.locator('[data-testid=login-password]').fill(password);
    await staff.locator('[data-testid=login-submit]').click();

    step = 'clinician: turn alerts on';
    await staff.locator('[data-testid=alerts]').click();
    await staff.locator('[data-testid=alerts][aria-pressed=true]').waitFor({ timeout: WAIT });

    step = 'clinician: the left message shows the number as typed';
    const left = staff.locator('[data-testid=left-item]');
    await left.filter({ hasText: '+1 555 010 2030' }).waitFor({ timeout: WAIT });
    const text = await left.first().textContent();
    if (!/Text message/.test(text) || !/weekday mornings/.test(text)) throw new Error('the left message reads: ' + text);
    await shot(staff, 'console-left.png');

    step = 'clinician: open the chat, take it and answer';
    await left.first().locator('[data-testid=left-open]').click();
    await staff.locator('[data-testid=take]').click();
    await staff.locator('[data-testid=reply-input]:enabled').waitFor({ timeout: WAIT });
    step = 'clinician: the intake answers, as typed, beside the chat';
    await staff.locator('[data-testid=intake]').filter({ hasText: 'Zelda Quartermaine' }).waitFor({ timeout: WAIT });
    await staff.locator('[data-testid=intake]').filter({ hasText: '1984-03-09' }).waitFor({ timeout: WAIT });
    await staff.locator('[data-testid=reply-input]').fill('Your results are normal. No need to come in.');
    await staff.locator('[data-testid=reply-send]').click();
    await staff.locator('[data-testid=history] [data-testid=history-message][data-from=clinician]')
      .filter({ hasText: 'Your results are normal' }).first().waitFor({ timeout: WAIT });

    step = 'clinician: mark it done';
    await left.first().locator('[data-testid=left-done]').click();
    await left.first().waitFor({ state: 'detached', timeout: WAIT });

    step = 'clinician: an urgent chat sounds the alert';
    const before = await staff.evaluate(() => window.__beeps);
    const urgentCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
    const urgent = await urgentCtx.newPage();
    urgent.setDefaultTimeout(WAIT);
    watch(urgent, 'urgent patient');
    pages.urgent = urgent;
    await urgent.goto(base + '/', { timeout: WAIT });
    await urgent.locator('#carechat-widget [data-testid=launcher]').click();
    await urgent.locator('#carechat-widget [data-testid=agree]').click();
    await urgent.locator('#carechat-widget [data-testid=send]:enabled').waitFor({ timeout: WAIT });
    await urgent.locator('#carechat-widget [data-testid=input]').fill('I have crushing chest pain and my arm is numb');
    await urgent.locator('#carechat-widget [data-testid=send]').click();
    // Three beeps for an urgent chat waiting; one if the router gave it to
    // this clinician at once.
    await staff.waitForFunction((n) => window.__beeps >= n + 1, before, { timeout: WAIT });
    await staff.locator('[data-testid=queue-item].urgent').first().waitFor({ timeout: WAIT });

    // ---------- the patient comes back ----------
    step = 'patient: back on the site in a new tab, the answer is there';
    const back = await patientCtx.newPage();
    back.setDefaultTimeout(WAIT);
    watch(back, 'patient back');
    pages.back = back;
    await back.goto(base + '/', { timeout: WAIT });
    const b = (sel) => back.locator('#carechat-widget ' + sel);
    await b('[data-testid=launcher]').click();
    await b('[data-testid=message][data-from=clinician]').filter({ hasText: 'Your results are normal' })
      .first().waitFor({ timeout: WAIT });
    await b('[data-testid=message][data-from=patient]').filter({ hasText: 'blood test results' })
      .first().waitFor({ timeout: WAIT });
    await shot(back, 'widget-contact-answered.png');

    if (pageErrors.length) throw new Error('JavaScript errors on the pages: ' + pageErrors.join(' | '));
  } catch (err) {
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
  console.error(`contact failed at step "${step}": ${clean(err && err.stack ? err.stack : err)}`);
  if (pageErrors.length) console.error('page errors: ' + pageErrors.join(' | '));
  console.log(JSON.stringify({ ok: false, step, error: clean(err && err.message || err), screenshots }));
  process.exit(1);
}
