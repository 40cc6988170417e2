// vote-bot: the load generator. Lists the emoji, then votes, VOTE_RATE per second through the
// ingress (WEB_HOST), for VOTE_COUNT votes (0 = until stopped).
const { EMOJI } = require('./proto.cjs');

const host = process.env.WEB_HOST ?? '127.0.0.1:8080';
const rate = Number(process.env.VOTE_RATE ?? 1);
const count = Number(process.env.VOTE_COUNT ?? 0);
let sent = 0;

async function vote() {
  const e = EMOJI[Math.floor(Math.random() * EMOJI.length)];
  try {
    await (await fetch(`http://${host}/api/list`)).arrayBuffer();
    const res = await fetch(`http://${host}/api/vote?choice=${encodeURIComponent(e.shortcode)}`);
    process.stdout.write(`${JSON.stringify({ vote: e.shortcode, status: res.status })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ vote: e.shortcode, error: err.message })}\n`);
  }
}

const timer = setInterval(() => {
  void vote();
  if (count > 0 && ++sent >= count) clearInterval(timer);
}, 1000 / rate);
