// Renders a local HTML file in headless Chromium and prints {html, errors} as JSON; with a second argument, also a
// PNG screenshot there. The browser comes from npm alone: @sparticuz/chromium ships Chromium and its libraries inside
// its registry tarball (unpacked to a temp folder on first use, nothing downloaded), driven by puppeteer-core. Run
// as its own process because both packages are ES modules, which jest's CommonJS runtime cannot load.
import chromium from '@sparticuz/chromium';
import puppeteer from 'puppeteer-core';

const [file, png] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node render-page.mjs FILE.html [SHOT.png]\n');
  process.exit(2);
}
const browser = await puppeteer.launch({
  executablePath: await chromium.executablePath(),
  // The package's serverless flags, plus those this machine's closed network needs (no background connections).
  args: [...chromium.args, '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  headless: true,
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewport({ width: 1100, height: 1600 });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  const html = await page.content();
  if (png) await page.screenshot({ path: png, fullPage: true });
  process.stdout.write(JSON.stringify({ html, errors }));
} finally {
  await browser.close();
}
