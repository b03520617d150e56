/* web_static.c - the stylesheet, the Stripe card script and the hold
 * countdown script, embedded in the
 * binary and served with long cache headers (their URLs carry a hash of
 * their content, so a new build gets new URLs). */
#include "web_impl.h"

#include <string.h>

#include "web.h"

const char web_css[] =
	":root{--fg:#1d2230;--muted:#5c6475;--line:#dde1e8;--bg:#f6f7f9;--card:#fff;"
	"--accent:#2457d6;--accent-fg:#fff;--bad:#b3261e;--bad-bg:#fdecea;--ok:#1e6b34;"
	"--ok-bg:#e7f5ea;--radius:10px}\n"
	"*{box-sizing:border-box}\n"
	"html{-webkit-text-size-adjust:100%}\n"
	"body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;"
	"color:var(--fg);background:var(--bg)}\n"
	"a{color:var(--accent)}\n"
	"h1{font-size:1.6rem;margin:.2em 0 .6em}h2{font-size:1.2rem;margin:.2em 0 .4em}\n"
	".wrap{max-width:1040px;margin:0 auto;padding:0 16px}\n"
	"main.wrap{padding-top:20px;padding-bottom:48px}\n"
	".bar{background:var(--card);border-bottom:1px solid var(--line)}\n"
	".bar .wrap{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;"
	"min-height:56px;padding-top:6px;padding-bottom:6px}\n"
	".brand{font-weight:700;font-size:1.25rem;color:var(--fg);text-decoration:none;"
	"margin-right:auto}\n"
	".who{color:var(--muted);font-size:.9rem;min-width:0;overflow:hidden;"
	"text-overflow:ellipsis;white-space:nowrap}\n"
	".bar nav{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px}\n"

	"form.inline{display:inline;margin:0}\n"
	".button,button{display:inline-block;font:inherit;font-weight:600;border:1px solid "
	"var(--accent);background:var(--accent);color:var(--accent-fg);border-radius:8px;"
	"padding:.5em 1em;text-decoration:none;cursor:pointer;line-height:1.2}\n"
	".button.small,button.small{padding:.3em .7em;font-size:.9rem}\n"
	".button.plain,button.plain{background:var(--card);color:var(--accent)}\n"
	"button.danger{background:var(--card);color:var(--bad);border-color:var(--bad)}\n"
	"button.link{background:none;border:0;color:var(--accent);padding:0;font-weight:400;"
	"text-decoration:underline}\n"
	"button:disabled{opacity:.45;cursor:not-allowed}\n"
	".head{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;"
	"gap:8px 16px;margin-bottom:12px}\n"
	".head h1{margin:0}\n.head p{margin:.2em 0 0}\n"
	".muted{color:var(--muted)}\n"
	".card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);"
	"padding:16px}\n"
	".narrow{max-width:480px;margin:0 auto}\n"
	".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:16px;"
	"padding:0;margin:0;list-style:none}\n"
	".grid>li{display:flex;flex-direction:column;gap:8px}\n"
	".grid h2,.grid p{margin:0}\n"
	".grid h2 a{color:var(--fg);text-decoration:none}\n"
	".thumb{width:100%;aspect-ratio:4/3;object-fit:cover;border-radius:8px;"
	"background:var(--bg);display:block}\n"
	".price{font-weight:700}\n"
	".actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-top:auto}\n"
	".field{margin:0 0 14px}\n"
	".field label{display:block;font-weight:600;margin-bottom:4px}\n"
	"input[type=text],input[type=email],input[type=password],input[type=url],"
	"input[type=number],textarea,select{width:100%;font:inherit;padding:.55em .7em;"
	"border:1px solid var(--line);border-radius:8px;background:#fff;color:var(--fg)}\n"
	"input[type=file]{font:inherit;max-width:100%}\n"
	".invalid input,.invalid textarea,.invalid select{border-color:var(--bad)}\n"
	".error{color:var(--bad);margin:4px 0 0;font-size:.92rem}\n"
	".alert{background:var(--bad-bg);color:var(--bad);border-radius:8px;padding:8px 12px;"
	"margin:0 0 14px}\n.alert p{margin:.2em 0}\n"
	".notice{background:var(--ok-bg);color:var(--ok);border-radius:8px;padding:8px 12px}\n"
	".hint{color:var(--muted);font-size:.9rem;margin:4px 0 0}\n"
	"form .field+.hint{margin:-10px 0 14px}\n"
	"#pay{margin-top:16px}\n"
	"table{width:100%;border-collapse:collapse}\n"
	"th,td{text-align:left;padding:8px 6px;border-bottom:1px solid var(--line);"
	"vertical-align:middle}\n"
	"td.num,th.num{text-align:right;white-space:nowrap}\n"
	".qty{display:flex;align-items:center;gap:6px}\n"
	".qty output{min-width:2ch;text-align:center;font-weight:600}\n"
	".line-thumb{width:56px;height:42px;object-fit:cover;border-radius:6px;"
	"background:var(--bg)}\n"
	".total{font-size:1.2rem;font-weight:700;text-align:right;margin:12px 0}\n"
	"fieldset{border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:0 0 14px}\n"
	"fieldset label{display:block;padding:4px 0;font-weight:400}\n"
	"#card-element{padding:12px;border:1px solid var(--line);border-radius:8px;"
	"background:#fff;margin-bottom:10px}\n"
	".orders{list-style:none;padding:0;display:grid;gap:16px}\n"
	"form.search{display:flex;gap:6px;flex:1 1 220px;max-width:420px;margin:0}\n"
	"form.search input{flex:1;min-width:0;font:inherit;padding:.35em .6em;"
	"border:1px solid var(--line);border-radius:8px}\n"
	".sorts,.pager{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;margin:0 0 14px}\n"
	".pager{margin:18px 0 0;justify-content:center}\n"
	".product-page{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:24px}\n"
	".hero{width:100%;aspect-ratio:4/3;object-fit:cover;border-radius:8px;"
	"background:var(--bg);display:block}\n"
	".product-page .description{white-space:pre-line}\n"
	".product-page .price{font-size:1.4rem}\n"
	"@media (max-width:700px){.product-page{grid-template-columns:1fr}}\n"
	"@media (max-width:600px){body{font-size:15px}.hide-small{display:none}"
	".who{flex:1 1 0;text-align:right}.who+nav{flex-basis:100%}"
	"table.cart,table.cart tbody{display:block}table.cart thead{display:none}"
	"table.cart tr{display:grid;grid-template-columns:1fr auto;gap:6px 12px;"
	"grid-template-areas:'name name' 'qty sum' 'unit remove';padding:10px 0;"
	"border-bottom:1px solid var(--line)}"
	"table.cart td{border:0;padding:0}table.cart td.pic{display:none}"
	"td.name{grid-area:name;font-weight:600}td.unit{grid-area:unit;text-align:left;"
	"color:var(--muted)}td.unit:after{content:' each'}td.qty-cell{grid-area:qty}"
	"td.sum{grid-area:sum}td.remove{grid-area:remove;text-align:right}}\n";

/* Stripe's card element (only with STRIPE_PUBLISHABLE_KEY): creates a token
 * in the browser and posts only the token. */
const char web_pay_js[] =
	"(function () {\n"
	"  var form = document.getElementById('pay-form');\n"
	"  if (!form || !window.Stripe) return;\n"
	"  var stripe = window.Stripe(form.getAttribute('data-stripe-key'));\n"
	"  var card = stripe.elements().create('card');\n"
	"  var errors = document.getElementById('card-errors');\n"
	"  var button = form.querySelector('button[type=submit]');\n"
	"  card.mount('#card-element');\n"
	"  button.disabled = false;\n"
	"  form.addEventListener('submit', function (ev) {\n"
	"    if (form.elements.token.value) return;\n"
	"    ev.preventDefault();\n"
	"    button.disabled = true;\n"
	"    stripe.createToken(card).then(function (r) {\n"
	"      if (r.error) {\n"
	"        errors.textContent = r.error.message;\n"
	"        button.disabled = false;\n"
	"        return;\n"
	"      }\n"
	"      form.elements.token.value = r.token.id;\n"
	"      form.submit();\n"
	"    });\n"
	"  });\n"
	"})();\n";

/* The cart's hold countdowns: each <time data-hold-until datetime=...>
 * counts down in words each second ("12:34 left"); at zero it says the
 * hold ran out and reloads the cart, which then shows the line gone. The
 * page reads the same without it: "until 10:15:00 UTC". */
const char web_hold_js[] =
	"(function () {\n"
	"  var times = document.querySelectorAll('time[data-hold-until]');\n"
	"  if (!times.length) return;\n"
	"  var reload = false;\n"
	"  function pad(n) { return (n < 10 ? '0' : '') + n; }\n"
	"  function tick() {\n"
	"    var now = Date.now();\n"
	"    for (var i = 0; i < times.length; i++) {\n"
	"      var t = times[i], left = Math.floor((Date.parse(t.getAttribute('datetime')) - now) / 1000);\n"
	"      if (isNaN(left)) continue;\n"
	"      if (left <= 0) {\n"
	"        t.parentNode.textContent = 'Your hold ran out: this line leaves your cart.';\n"
	"        reload = true;\n"
	"        continue;\n"
	"      }\n"
	"      var at = new Date(Date.parse(t.getAttribute('datetime')));\n"
	"      t.textContent = at.toLocaleTimeString() + ' (' + Math.floor(left / 60) + ':' +\n"
	"        pad(left % 60) + ' left)';\n"
	"    }\n"
	"    if (reload) { setTimeout(function () { location.reload(); }, 3000); return; }\n"
	"    setTimeout(tick, 1000);\n"
	"  }\n"
	"  tick();\n"
	"})();\n";

static const struct {
	const char *name, *type, *body;
	size_t len;
} files[] = {
	{ "store.css", "text/css; charset=utf-8", web_css, sizeof web_css - 1 },
	{ "pay.js", "text/javascript; charset=utf-8", web_pay_js, sizeof web_pay_js - 1 },
	{ "hold.js", "text/javascript; charset=utf-8", web_hold_js, sizeof web_hold_js - 1 },
};

void
store_web_static(store_req *req, store_res *res)
{
	const char *file = req->params[0];
	web_ctx c;

	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		if (strcmp(file, files[i].name) == 0) {
			store_res_header(res, "Cache-Control", "public, max-age=31536000, immutable");
			store_res_body(res, 200, files[i].type, files[i].body, files[i].len);
			return;
		}
	}
	web_begin(&c, req, res);
	web_error_page(&c, 404, "Not found", "There is nothing here.");
	web_end(&c);
}
