// Accessibility walk-through: axe-core (WCAG 2.1 A and AA rules) on every
// state of the patient widget and the console's pages, with a patient who
// uses the keyboard only, a clinic colour too light for white text, and
// screenshots at 390×844 (a phone) and 1280×800 (a laptop). On the way, the
// console is checked installable (its manifest) and its service worker to
// cache the shell alone.
//
// Usage: node a11y.mjs <base-url> <username> <password> <screenshot-dir>
// Prints one JSON line {"ok":true,"checked":[...],"screenshots":[...]} and
// exits 0, or prints the violations and exits 1.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const WAIT = 30_000;
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const PHONE = { width: 390, height: 844 };
const LAPTOP = { width: 1280, height: 800 };
const [baseArg, username, password, shotArg] = process.argv.slice(2);
if (!baseArg || !username || !password || !shotArg) {
  console.error('usage: node a11y.mjs <base-url> <username> <password> <screenshot-dir>');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const shotDir = resolve(shotArg);
const screenshots = [];
const checked = [];
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

// axe on the whole page (the widget's open shadow root included): any
// violation of a WCAG 2.1 A or AA rule fails the walk, naming the rule and
// the elements.
async function axe(page, name) {
  const result = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  if (result.violations.length) {
    const said = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 5).map((n) => n.target.join(' > ')).join(', ')).join('\n  ');
    throw new Error(`axe found WCAG 2.1 AA violations on "${name}":\n  ${said}`);
  }
  checked.push(name);
}

// Which element has the focus, looking into the widget's shadow root.
async function focused(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el ? (el.getAttribute('data-testid') || el.tagName.toLowerCase()) : null;
  });
}

async function waitFocus(page, testid) {
  await page.waitForFunction((id) => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el && el.getAttribute('data-testid') === id;
  }, testid, { timeout: WAIT }).catch(async () => {
    throw new Error(`the focus is not on ${testid} but on ${await focused(page)}`);
  });
}

async function tabTo(page, testid) {
  for (let i = 0; i < 30; i++) {
    if ((await focused(page)) === testid) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${testid} (focus is on ${await focused(page)})`);
}

async function signIn(browser, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'en-US' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT);
  watch(page, 'console');
  await page.goto(base + '/console', { timeout: WAIT });
  await page.locator('[data-testid=login-username]').waitFor({ timeout: WAIT });
  return page;
}

async function main() {
  mkdirSync(shotDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // ---------- a patient on a phone, with the keyboard only ----------
    step = 'patient: the clinic page with the widget closed';
    const ctx = await browser.newContext({ viewport: PHONE, locale: 'en-US', reducedMotion: 'reduce' });
    const patient = await ctx.newPage();
    patient.setDefaultTimeout(WAIT);
    watch(patient, 'patient');
    pages.patient = patient;
    await patient.goto(base + '/', { timeout: WAIT });
    const w = (sel) => patient.locator('#carechat-widget ' + sel);
    await w('[data-testid=launcher]').waitFor({ timeout: WAIT });
    await axe(patient, 'widget closed');

    step = 'patient: Tab to the launcher and open it with Enter';
    await tabTo(patient, 'launcher');
    await patient.keyboard.press('Enter');
    step = 'patient: the consent note, its button focused';
    await w('[data-testid=consent]').waitFor({ timeout: WAIT });
    await waitFocus(patient, 'agree');
    await axe(patient, 'widget consent');
    await shot(patient, 'a11y-widget-consent-390.png');

    step = 'patient: agree with Enter; the clinic\'s intake questions';
    await patient.keyboard.press('Enter');
    const intake = w('[data-testid=intake-form]');
    await intake.waitFor({ state: 'visible', timeout: WAIT });
    await axe(patient, 'widget intake questions');
    await shot(patient, 'a11y-widget-intake-390.png');
    step = 'patient: skip them with the keyboard, then type and send with Enter';
    await intake.getByRole('button', { name: 'Skip' }).focus();
    await patient.keyboard.press('Enter');
    await intake.waitFor({ state: 'hidden', timeout: WAIT });
    await w('[data-testid=input]:enabled').waitFor({ timeout: WAIT });
    await waitFocus(patient, 'input');
    await patient.keyboard.type('What time do you open on Saturday?');
    await patient.keyboard.press('Enter');
    await w('[data-testid=message][data-from=bot]').nth(1).waitFor({ timeout: WAIT });
    await axe(patient, 'widget chat');
    await shot(patient, 'a11y-widget-chat-390.png');

    step = 'patient: ask for a person while nobody is online: the contact form';
    await patient.keyboard.type('I need my blood test results please');
    await patient.keyboard.press('Enter');
    const form = w('[data-testid=contact-form]');
    await form.waitFor({ state: 'visible', timeout: WAIT });
    await axe(patient, 'widget offline contact form');
    await shot(patient, 'a11y-widget-offline-390.png');

    step = 'patient: fill the form with the keyboard';
    // The radios (arrow keys choose), then the number; Enter submits.
    await form.getByRole('radio', { name: 'Email' }).focus();
    await patient.keyboard.press('ArrowDown');
    if (!(await form.getByRole('radio', { name: 'Text message' }).isChecked())) {
      throw new Error('the arrow key did not choose "Text message"');
    }
    await patient.keyboard.press('Tab');
    await patient.keyboard.type('+1 555 010 2030');
    await patient.keyboard.press('Enter');
    await w('[data-testid=notice]').filter({ hasText: /get back to you/ }).waitFor({ timeout: WAIT });
    await axe(patient, 'widget message left');

    step = 'patient: Escape closes the panel and gives the focus back to the launcher';
    await w('[data-testid=input]').focus();
    await patient.keyboard.press('Escape');
    await w('section[role=dialog]').waitFor({ state: 'hidden', timeout: WAIT });
    if ((await focused(patient)) !== 'launcher') throw new Error('Escape left the focus on ' + await focused(patient));

    // ---------- the console ----------
    step = 'console: sign-in page';
    const staff = await signIn(browser, LAPTOP);
    pages.console = staff;
    await axe(staff, 'console sign-in');
    await staff.locator('[data-testid=login-username]').fill(username);
    await staff.locator('[data-testid=login-password]').fill(password);
    await staff.locator('[data-testid=login-password]').press('Enter');
    step = 'console: the lists, with a left message';
    await staff.locator('[data-testid=left-item]').first().waitFor({ timeout: WAIT });
    await axe(staff, 'console lists');
    await shot(staff, 'a11y-console-1280.png');
    step = 'console: installable, its service worker caching the shell and nothing else';
    const cached = await staff.evaluate(async () => {
      // Bounded: page.evaluate itself never times out.
      const late = new Promise((_, no) => setTimeout(() => no(new Error('no service worker became ready in 30 s')), 30000));
      await Promise.race([navigator.serviceWorker.ready, late]);
      // Answers made while it runs (the lists, a chat) must not be kept.
      await fetch('/api/me');
      const out = [];
      for (const k of await caches.keys()) {
        for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
      }
      return out.sort();
    });
    if (JSON.stringify(cached) !== JSON.stringify(['/console', '/console.css', '/console.js', '/icon.svg'])) {
      throw new Error('the service worker cached ' + JSON.stringify(cached));
    }
    const manifest = await staff.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
    if (manifest.display !== 'standalone' || manifest.start_url !== '/console' || !manifest.icons.length) {
      throw new Error('the manifest does not make an installable app: ' + JSON.stringify(manifest));
    }

    step = 'console: a Web Push message becomes a notification that says no patient word';
    // The push service's part is played by DevTools: it hands the service
    // worker a message as a push service would (the sealing and signing are
    // tests/tests/e2e/push.rs's).
    await staff.context().grantPermissions(['notifications'], { origin: base });
    const cdp = await staff.context().newCDPSession(staff);
    const registration = new Promise((found) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
        const r = e.registrations.find((x) => x.scopeURL.startsWith(base) && !x.isDeleted);
        if (r) found(r);
      });
    });
    await cdp.send('ServiceWorker.enable');
    const { registrationId } = await Promise.race([registration,
      new Promise((_, no) => setTimeout(() => no(new Error('no service worker registration in 30 s')), WAIT))]);
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: base + '/', registrationId,
      data: JSON.stringify({ title: 'Urgent chat waiting', body: 'An urgent chat is waiting for the team.', tag: 'carechat-urgent', urgent: true, url: '/console' }),
    });
    const shown = await staff.evaluate(async () => {
      const r = await navigator.serviceWorker.ready;
      // Bounded: showNotification settles within a moment of the push.
      for (let i = 0; i < 100; i++) {
        const n = await r.getNotifications();
        if (n.length) return n.map((x) => ({ title: x.title, body: x.body, tag: x.tag, sticky: x.requireInteraction }));
        await new Promise((ok) => setTimeout(ok, 100));
      }
      return [];
    });
    if (shown.length !== 1 || shown[0].title !== 'Urgent chat waiting' || shown[0].tag !== 'carechat-urgent' || !shown[0].sticky) {
      throw new Error('the push showed ' + JSON.stringify(shown));
    }
    await cdp.detach();

    step = 'console: available, then busy, so the next chat waits in the queue';
    await staff.locator('[data-testid=availability]').click();
    await staff.locator('[data-testid=busy]').click();
    await staff.locator('[data-testid=availability][data-status=busy]').waitFor({ timeout: WAIT });

    step = 'patient 2: a chat waiting in the queue';
    const ctx2 = await browser.newContext({ viewport: LAPTOP, locale: 'en-US' });
    const queued = await ctx2.newPage();
    queued.setDefaultTimeout(WAIT);
    watch(queued, 'patient 2');
    pages.queued = queued;
    await queued.goto(base + '/', { timeout: WAIT });
    const q = (sel) => queued.locator('#carechat-widget ' + sel);
    await q('[data-testid=launcher]').click();
    await q('[data-testid=agree]').click();
    await q('[data-testid=input]:enabled').fill('I need to talk to a nurse about my prescription');
    await q('[data-testid=input]').press('Enter');
    await q('[data-testid=status]').filter({ hasText: /waiting/i }).waitFor({ timeout: WAIT });
    await axe(queued, 'widget queued');
    await shot(queued, 'a11y-widget-queued-1280.png');

    step = 'console: a chat open';
    await staff.locator('[data-testid=left-open]').first().click();
    await staff.locator('[data-testid=chat]').waitFor({ timeout: WAIT });
    await axe(staff, 'console chat');
    step = 'console: on a phone';
    await staff.setViewportSize(PHONE);
    await axe(staff, 'console on a phone');
    await shot(staff, 'a11y-console-390.png');

    // ---------- a clinic colour too light for white text ----------
    // On a page whose Content-Security-Policy allows no inline style (the
    // transcript page's, `style-src 'self'`): the widget styles itself
    // with a constructed style sheet, which such a policy does not block.
    step = 'a clinic whose colour is too light, on a strict page: the widget darkens it';
    const light = await ctx2.newPage();
    watch(light, 'light colour');
    pages.light = light;
    await light.goto(base + '/transcript', { timeout: WAIT });
    await light.evaluate((src) => {
      document.body.innerHTML = '<main><h1>Sunny Dental</h1></main>';
      const s = document.createElement('script');
      s.src = src;
      s.setAttribute('data-clinic', 'Sunny Dental');
      s.setAttribute('data-color', '#7dd3fc');
      document.body.appendChild(s);
    }, base + '/widget.js');
    const l = (sel) => light.locator('#carechat-widget ' + sel);
    await l('[data-testid=launcher]').click();
    await l('[data-testid=agree]').waitFor({ timeout: WAIT });
    // #7dd3fc under white text is 1.9:1; the widget darkens it to #487b92
    // (4.6:1), and axe agrees.
    const header = await l('[data-testid=launcher]').evaluate((h) => getComputedStyle(h).backgroundColor);
    if (header !== 'rgb(72, 123, 146)') throw new Error('the light colour was not darkened: ' + header);
    await axe(light, 'widget with a light clinic colour');
    await shot(light, 'a11y-widget-light-colour-1280.png');

    // ---------- the patients' own pages ----------
    for (const path of ['/transcript#' + '0'.repeat(64), '/reply#' + '0'.repeat(64)]) {
      step = 'page ' + path.split('#')[0];
      const page = await ctx2.newPage();
      watch(page, path);
      await page.goto(base + path, { timeout: WAIT });
      await page.locator('main h1').waitFor({ timeout: WAIT });
      await axe(page, 'page ' + path.split('#')[0]);
      await page.close();
    }

    if (pageErrors.length) throw new Error('JavaScript errors on the pages: ' + pageErrors.join(' | '));
  } catch (err) {
    for (const [name, page] of Object.entries(pages)) {
      await shot(page, `failure-a11y-${name}.png`).catch(() => {});
    }
    throw err;
  } finally {
    await browser.close().catch(() => {});
  }
}

try {
  await main();
  console.log(JSON.stringify({ ok: true, checked, screenshots }));
  process.exit(0);
} catch (err) {
  const clean = (t) => String(t).replace(/\u001b\[[0-9;]*m/g, '');
  console.error(`a11y failed at step "${step}": ${clean(err && err.stack ? err.stack : err)}`);
  if (pageErrors.length) console.error('page errors: ' + pageErrors.join(' | '));
  console.log(JSON.stringify({ ok: false, step, error: clean(err && err.message || err), checked, screenshots }));
  process.exit(1);
}
