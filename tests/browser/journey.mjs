// journey.mjs - the store's whole journey in headless Chromium, through the
// web front (store-web), as a shopper and a seller would do it.
//
//   node tests/browser/journey.mjs STORE_URL ARTIFACT_DIR
//
// A seller (desktop) signs up, creates a category and a product with a
// picture uploaded from the computer (and twelve cheaper ones through the
// API, so the category has two pages); a buyer (phone-sized) signs up,
// finds the product with the search box, opens its page (Open Graph tags
// for a link preview), sorts the category by price and pages through it,
// adds the product to the cart, raises the quantity (a second hold), sees
// how long the holds last (the countdown), pays with a declined test card (sees the
// message, the cart stays), pays with the succeeding one and sees the order.
// A screenshot of every step goes to ARTIFACT_DIR (NN-step.png); on failure,
// NN-FAILED-<who>.png too. Prints one line per step; exits 0 when all passed.
//
// Waits are on selectors and URLs, each bounded; the cart is built from
// events, so the cart page refreshes itself until the item shows (bounded).
// Chromium is Debian's (CHROMIUM, default /usr/bin/chromium) with the flags
// that work on a closed network; playwright-core makes a fresh profile.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const [base, artifacts] = process.argv.slice(2);
if (!base || !artifacts) {
	console.error('usage: node journey.mjs STORE_URL ARTIFACT_DIR');
	process.exit(64);
}
mkdirSync(artifacts, { recursive: true });

// Generous for the sanitizer build on a loaded two-core machine.
const WAIT = Number(process.env.STORE_BROWSER_WAIT_MS || 60000);
const PASSWORD = 'Pw_secret1';
const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// --- a picture from the computer: a real PNG, made here -----------------------

function crc32(buf) {
	let c, crc = 0xffffffff;
	for (const b of buf) {
		c = (crc ^ b) & 0xff;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		crc = (crc >>> 8) ^ c;
	}
	return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
	const len = Buffer.alloc(4);
	len.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body));
	return Buffer.concat([len, body, crc]);
}

function png(width, height) {
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(width, 0);
	ihdr.writeUInt32BE(height, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = 2; // RGB
	const rows = [];
	for (let y = 0; y < height; y++) {
		const row = Buffer.alloc(1 + width * 3);
		for (let x = 0; x < width; x++) {
			row[1 + x * 3] = 40 + Math.floor((200 * x) / width);
			row[2 + x * 3] = 90 + Math.floor((120 * y) / height);
			row[3 + x * 3] = 200;
		}
		rows.push(row);
	}
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', deflateSync(Buffer.concat(rows))),
		chunk('IEND', Buffer.alloc(0)),
	]);
}

// --- steps ---------------------------------------------------------------------

let n = 0;
const pages = {};

async function shot(page, name) {
	await page.screenshot({ path: join(artifacts, `${String(n).padStart(2, '0')}-${name}.png`),
		fullPage: true });
}

// step NAME WHO FN: runs FN, then a screenshot of WHO's page.
async function step(name, who, fn) {
	n++;
	const t0 = Date.now();
	await fn();
	await shot(pages[who], name);
	console.log(`ok ${n} - ${name} (${who}, ${Date.now() - t0} ms)`);
}

async function expectText(locator, text) {
	await locator.filter({ hasText: text }).first().waitFor({ timeout: WAIT });
}

// waitShown PAGE SELECTOR: waits (WAIT at most) until SELECTOR shows, across
// the page's own refreshes; reloads it when it stopped refreshing.
async function waitShown(page, selector) {
	const end = Date.now() + WAIT;
	for (;;) {
		try {
			await page.locator(selector).waitFor({ timeout: Math.min(5000, Math.max(end - Date.now(), 1)) });
			return;
		} catch (err) {
			if (Date.now() >= end) throw err;
		}
		await page.reload();
	}
}

async function submit(page, button, url) {
	await Promise.all([page.waitForURL(url, { timeout: WAIT }), button.click()]);
}

async function signUp(page, email) {
	await page.goto(`${base}/signup`);
	await page.getByLabel('Email').fill(email);
	await page.getByLabel('Password').fill(PASSWORD);
	await submit(page, page.getByRole('button', { name: 'Sign up' }), (u) => u.pathname === '/');
	await expectText(page.locator('header .who'), email);
}

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	timeout: WAIT,
	args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
	const seller = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const buyer = await browser.newContext({ viewport: { width: 390, height: 844 },
		deviceScaleFactor: 2, hasTouch: true });
	for (const ctx of [seller, buyer]) ctx.setDefaultTimeout(WAIT);
	pages.seller = await seller.newPage();
	pages.buyer = await buyer.newPage();
	const s = pages.seller, b = pages.buyer;
	const category = `Books ${tag}`;
	const product = `The C Programming Language ${tag}`;
	let productId = '', categoryId = '';

	await step('seller-signs-up', 'seller', async () => {
		await signUp(s, `seller-${tag}@example.com`);
	});

	await step('seller-creates-category', 'seller', async () => {
		await s.getByRole('link', { name: 'New category' }).click();
		await s.waitForURL((u) => u.pathname === '/categories/new');
		await s.getByLabel('Name').fill(category);
		await s.getByLabel('Description').fill('Books about programming');
		await submit(s, s.getByRole('button', { name: 'Create' }),
			(u) => /^\/categories\/[0-9a-f]{24}$/.test(u.pathname));
		await expectText(s.locator('h1'), category);
		categoryId = new URL(s.url()).pathname.split('/')[2];
	});

	await step('seller-fills-product', 'seller', async () => {
		await s.getByRole('link', { name: 'New product' }).click();
		await s.waitForURL((u) => u.pathname === '/products/new');
		await s.getByLabel('Name').fill(product);
		await s.getByLabel('Description').fill('Kernighan and Ritchie, second edition');
		await s.getByLabel('Price ($)').fill('12.50');
		await s.getByLabel('In stock').fill('5');
		await s.getByLabel('Picture', { exact: true }).setInputFiles({
			name: 'cover.png', mimeType: 'image/png', buffer: png(160, 120),
		});
	});

	await step('seller-creates-product-with-picture', 'seller', async () => {
		await submit(s, s.getByRole('button', { name: 'Create' }),
			(u) => /^\/categories\/[0-9a-f]{24}$/.test(u.pathname));
		const card = s.locator('li.product').filter({ hasText: product });
		await card.waitFor();
		productId = await card.getAttribute('data-product');
		const img = card.locator('img.thumb');
		await img.waitFor();
		// The uploaded picture is served back and decodes as an image.
		await s.waitForFunction((el) => el.complete && el.naturalWidth === 160,
			await img.elementHandle(), { timeout: WAIT });
		await expectText(card, '$12.50');
	});

	await step('seller-adds-twelve-more-through-the-api', 'seller', async () => {
		for (let i = 1; i <= 12; i++) {
			const r = await seller.request.post(`${base}/api/products`, { data: {
				name: `Pamphlet ${i} ${tag}`, description: 'A short read', price: i, count: 3,
				picture: 'https://img.example.com/pamphlet.png', categoryId,
			} });
			if (r.status() !== 201) throw new Error(`POST /api/products: ${r.status()}`);
		}
	});

	await step('buyer-signs-up', 'buyer', async () => {
		await signUp(b, `buyer-${tag}@example.com`);
	});

	await step('buyer-searches', 'buyer', async () => {
		const box = b.getByRole('searchbox', { name: 'Search products' });
		await box.fill(`RITCHIE ${tag}`);
		await Promise.all([b.waitForURL((u) => u.pathname === '/search', { timeout: WAIT }),
			box.press('Enter')]);
		await expectText(b.locator('h1'), `RITCHIE ${tag}`);
		await expectText(b.locator('.total'), '1');
		await b.locator(`li.product[data-product="${productId}"]`).waitFor();
	});

	await step('buyer-opens-product-page', 'buyer', async () => {
		await b.locator(`li.product[data-product="${productId}"] h2 a`).click();
		await b.waitForURL((u) => u.pathname === `/products/${productId}`);
		await expectText(b.locator('h1'), product);
		await expectText(b.locator('.product-page .price'), '$12.50');
		await expectText(b.locator('.product-page .stock'), '5 left');
		const og = async (p) => b.locator(`meta[property="og:${p}"]`).getAttribute('content');
		if (await og('title') !== product || await og('type') !== 'product' ||
			await og('description') !== 'Kernighan and Ritchie, second edition' ||
			await og('url') !== `${base}/products/${productId}` ||
			!(await og('image')).startsWith(`${base}/api/products/picture/`))
			throw new Error('Open Graph tags are missing or wrong');
		// og:image is a picture a previewer can fetch.
		const pic = await b.request.get(await og('image'));
		if (pic.status() !== 200 || !pic.headers()['content-type'].startsWith('image/png'))
			throw new Error(`og:image answers ${pic.status()}`);
	});

	await step('buyer-sorts-and-pages-the-category', 'buyer', async () => {
		await b.getByRole('link', { name: category }).click();
		await b.waitForURL((u) => /^\/categories\/[0-9a-f]{24}$/.test(u.pathname));
		await expectText(b.locator('.pager'), 'Page 1 of 2');
		await b.getByRole('link', { name: 'Price: high to low' }).click();
		await b.waitForURL((u) => u.searchParams.get('sort') === '-price');
		// The dearest first: the product, then Pamphlet 12.
		await b.locator(`li.product[data-product="${productId}"]`).waitFor();
		const first = await b.locator('li.product').first().getAttribute('data-product');
		if (first !== productId) throw new Error(`first card ${first}, not ${productId}`);
		await b.getByRole('link', { name: 'Next →' }).click();
		await b.waitForURL((u) => u.searchParams.get('page') === '2');
		await expectText(b.locator('li.product'), `Pamphlet 1 ${tag}`);
		await expectText(b.locator('.pager'), 'Page 2 of 2');
		await b.getByRole('link', { name: '← Previous' }).click();
		await b.waitForURL((u) => u.searchParams.get('page') === '1');
	});

	await step('buyer-adds-to-cart', 'buyer', async () => {
		await submit(b, b.locator(`li.product[data-product="${productId}"]`)
			.getByRole('button', { name: 'Add to cart' }), (u) => u.pathname === '/cart');
		// The cart is built from events: the page refreshes itself until the
		// line shows (bounded); this waits for it across those reloads.
		await waitShown(b, `tr.cart-line[data-product="${productId}"]`);
		await expectText(b.locator('#cart-total'), '$12.50');
	});

	await step('buyer-raises-quantity', 'buyer', async () => {
		const line = b.locator(`tr.cart-line[data-product="${productId}"]`);
		await submit(b, line.getByRole('button', { name: `One more ${product}` }),
			(u) => u.pathname === '/cart');
		await expectText(b.locator(`tr.cart-line[data-product="${productId}"] output.count`), '2');
		await expectText(b.locator('#cart-total'), '$25.00');
	});

	await step('buyer-sees-hold-countdown', 'buyer', async () => {
		// Each line says until when it is held; hold.js turns the plain UTC
		// time into local time with a countdown.
		const held = b.locator(`tr.cart-line[data-product="${productId}"] time[data-hold-until]`);
		await held.waitFor({ timeout: WAIT });
		await expectText(held, 'left)');
	});

	await step('buyer-card-declined', 'buyer', async () => {
		await b.getByLabel('Declined', { exact: true }).check();
		await submit(b, b.getByRole('button', { name: 'Pay $25.00' }), (u) => u.pathname === '/pay');
		await expectText(b.locator('#pay .error'), 'Your card was declined.');
		// Nothing paid: the cart stays as it was.
		await expectText(b.locator(`tr.cart-line[data-product="${productId}"] output.count`), '2');
		await expectText(b.locator('#cart-total'), '$25.00');
	});

	await step('buyer-pays', 'buyer', async () => {
		await b.getByLabel('Visa (succeeds)').check();
		await submit(b, b.getByRole('button', { name: 'Pay $25.00' }), (u) => u.pathname === '/orders');
		await expectText(b.locator('.notice'), 'Your payment went through');
		const order = b.locator('li.order').filter({ hasText: product });
		await order.waitFor();
		await expectText(order.locator('.order-total'), '$25.00');
		await expectText(order.locator('tr.order-line'), '× 2');
	});

	await step('buyer-cart-emptied', 'buyer', async () => {
		// Emptied by the payment's event: reload until it shows (bounded).
		await b.getByRole('link', { name: 'Cart', exact: true }).click();
		await b.waitForURL((u) => u.pathname === '/cart');
		await waitShown(b, '#cart-empty');
	});

	await step('seller-signs-out', 'seller', async () => {
		await submit(s, s.getByRole('button', { name: 'Sign out' }), (u) => u.pathname === '/');
		await s.getByRole('link', { name: 'Sign in' }).waitFor();
	});
} catch (err) {
	failed = true;
	console.log(`not ok ${n} - ${err.message.split('\n')[0]}`);
	console.error(err);
	for (const [who, page] of Object.entries(pages)) {
		try {
			console.error(`# ${who} was at ${page.url()}`);
			await shot(page, `FAILED-${who}`);
		} catch { /* the page is gone */ }
	}
} finally {
	await browser.close();
}
process.exit(failed ? 1 : 0);
