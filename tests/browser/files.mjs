// Browser walk-through of files both ways: a patient attaches a phone photo
// (with its GPS position in its EXIF) in the widget; the nurse opens it in
// the console, upright and without the position, and sends a PDF back,
// which the patient saves. axe-core (WCAG 2.1 A and AA) checks the widget
// while the upload is under way, with the files shown, and the console
// with the photo open.
//
// Usage: node files.mjs <base-url> <username> <password> <screenshot-dir> <photo.jpg> <leaflet.pdf>
// Prints one JSON line {"ok":true,"screenshots":[...]} and exits 0, or prints the
// error and exits 1.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const WAIT = 30_000;
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const [baseArg, username, password, shotArg, photo, leaflet] = process.argv.slice(2);
if (!baseArg || !username || !password || !shotArg || !photo || !leaflet) {
  console.error('usage: node files.mjs <base-url> <username> <password> <screenshot-dir> <photo.jpg> <leaflet.pdf>');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const shotDir = resolve(shotArg);
const screenshots = [];
const pageErrors = [];
let step = 'start';

async function shot(page, name) {
  const path = join(shotDir, name);
  await page.screenshot({ path });
  screenshots.push(path);
}

function watch(page, label) {
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
}

async function axe(page, name) {
  const result = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  if (result.violations.length) {
    const said = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 5).map((n) => n.target.join(' > ')).join(', ')).join('\n  ');
    throw new Error(`axe found WCAG 2.1 AA violations on "${name}":\n  ${said}`);
  }
}

const has = (bytes, text) => bytes.includes(Buffer.from(text));

async function main() {
  mkdirSync(shotDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    step = 'clinician: sign in';
    const staffCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', acceptDownloads: true });
    const staff = await staffCtx.newPage();
    staff.setDefaultTimeout(WAIT);
    watch(staff, 'console');
    await staff.goto(base + '/console', { timeout: WAIT });
    await staff.locator('[data-testid=login-username]').fill(username);
    await staff.locator('[data-testid=login-password]').fill(password);
    await staff.locator('[data-testid=login-submit]').click();
    await staff.locator('[data-testid=availability]:visible').waitFor({ timeout: WAIT });
    // On the server's roster before the patient asks for a person.
    await staff.locator('[data-testid=connection][data-state=online]').waitFor({ timeout: WAIT });

    step = 'patient: open the widget and ask for a nurse';
    const patientCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', acceptDownloads: true });
    const patient = await patientCtx.newPage();
    patient.setDefaultTimeout(WAIT);
    watch(patient, 'patient');
    await patient.goto(base + '/', { timeout: WAIT });
    const w = (sel) => patient.locator('#carechat-widget ' + sel);
    await w('[data-testid=launcher]').click();
    await w('[data-testid=agree]').click();
    await w('[data-testid=send]:enabled').waitFor({ timeout: WAIT });
    // No paperclip while the bot has the chat: a file would reach nobody.
    if (await w('[data-testid=attach]').isVisible()) throw new Error('the paperclip shows while the bot has the chat');
    await w('[data-testid=input]').fill('I would like to talk to a nurse about a rash on my arm');
    await w('[data-testid=send]').click();
    await w('[data-testid=attach]').waitFor({ state: 'visible', timeout: WAIT });

    step = 'patient: attach the photo; the upload is held to check it in progress';
    let release;
    const held = new Promise((r) => { release = r; });
    await patient.route('**/api/patient/files?**', async (route) => {
      if (route.request().method() === 'POST') await held;
      await route.continue();
    });
    // From the keyboard: the paperclip is a button like any other.
    await w('[data-testid=attach]').focus();
    const [chooser] = await Promise.all([
      patient.waitForEvent('filechooser'),
      patient.keyboard.press('Enter'),
    ]);
    await chooser.setFiles(photo);
    await w('[data-testid=upload] progress').waitFor({ timeout: WAIT });
    await axe(patient, 'widget: a file upload in progress');
    await shot(patient, 'widget-file-uploading.png');
    release();
    const sent = w('[data-testid=message][data-from=patient] [data-testid=file]');
    await sent.waitFor({ timeout: WAIT });
    await w('[data-testid=upload]').waitFor({ state: 'detached', timeout: WAIT });
    await patient.unroute('**/api/patient/files?**');

    step = 'clinician: take the chat and open the photo';
    await staff.locator('[data-testid=queue-item]').first().click();
    await staff.locator('[data-testid=take]').click();
    await staff.locator('[data-testid=reply-input]:enabled').waitFor({ timeout: WAIT });
    const incoming = staff.locator('[data-testid=history] [data-testid=history-message][data-from=patient] [data-testid=file]');
    await incoming.waitFor({ timeout: WAIT });
    await incoming.click();
    const preview = staff.locator('[data-testid=file-preview]');
    await preview.waitFor({ timeout: WAIT });
    const size = await preview.evaluate((img) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    // Taken sideways (EXIF orientation 6): upright once stripped.
    if (size[0] !== 48 || size[1] !== 64) throw new Error('the photo shows as ' + size.join('×'));
    const [saving] = await Promise.all([staff.waitForEvent('download'), staff.locator('[data-testid=file-save]').click()]);
    const jpeg = readFileSync(await saving.path());
    if (has(jpeg, 'Exif') || has(jpeg, 'Jane Roe')) throw new Error('the photo the nurse sees keeps its EXIF');
    if (!has(readFileSync(photo), 'Exif')) throw new Error('the photo sent had no EXIF to strip');
    await axe(staff, 'console: a photo from the patient, open');
    await shot(staff, 'console-file.png');

    step = 'clinician: send a PDF back';
    await staff.locator('[data-testid=attach-input]').setInputFiles(leaflet);
    await staff.locator('[data-testid=history] [data-testid=history-message][data-from=clinician] [data-testid=file]')
      .waitFor({ timeout: WAIT });

    step = 'patient: save the PDF';
    const got = w('[data-testid=message][data-from=clinician] [data-testid=file]');
    await got.waitFor({ timeout: WAIT });
    await axe(patient, 'widget: files sent and received');
    await shot(patient, 'widget-files.png');
    const [download] = await Promise.all([patient.waitForEvent('download'), got.click()]);
    const saved = readFileSync(await download.path());
    if (!/\.pdf$/.test(download.suggestedFilename())) throw new Error('saved as ' + download.suggestedFilename());
    if (saved.subarray(0, 4).toString() !== '%PDF') throw new Error('the saved file is not a PDF');
    if (has(saved, 'Jane Roe')) throw new Error('the PDF the patient saved keeps its author');
    if (!has(readFileSync(leaflet), 'Jane Roe')) throw new Error('the PDF sent had no author to strip');

    if (pageErrors.length) throw new Error('page errors: ' + pageErrors.join(' | '));
  } finally {
    await browser.close();
  }
}

try {
  await main();
  console.log(JSON.stringify({ ok: true, screenshots }));
} catch (err) {
  const clean = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, '');
  console.error(`files failed at step "${step}": ${clean(err && err.stack ? err.stack : err)}`);
  if (pageErrors.length) console.error('page errors: ' + pageErrors.join(' | '));
  console.log(JSON.stringify({ ok: false, step, error: clean(err && err.message || err), screenshots }));
  process.exit(1);
}
