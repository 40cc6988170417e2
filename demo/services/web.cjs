// web: the vote API and a small page (HTTP), calling emoji-svc and voting-svc over gRPC through
// its sidecar's outbound ports (EMOJISVC_HOST, VOTINGSVC_HOST), as emojivoto's web does.
const http = require('node:http');
const { grpc, Emoji, Voting, EMOJI, ready } = require('./proto.cjs');

const emoji = new Emoji.EmojiService(process.env.EMOJISVC_HOST ?? '127.0.0.1:8080', grpc.credentials.createInsecure());
const voting = new Voting.VotingService(process.env.VOTINGSVC_HOST ?? '127.0.0.1:8081', grpc.credentials.createInsecure());
const call = (client, method, req) => new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));

const PAGE = `<!doctype html><title>Emoji Vote</title><h1>🗳 Emoji Vote</h1><ul id=l></ul>
<script>fetch('/api/list').then(r=>r.json()).then(l=>{for(const e of l){const li=document.createElement('li');li.innerHTML='<a href="/api/vote?choice='+encodeURIComponent(e.shortcode)+'">'+e.unicode+'</a>';document.getElementById('l').append(li)}})</script>`;

function send(res, status, body) {
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://web');
  try {
    if (url.pathname === '/') return send(res, 200, PAGE);
    if (url.pathname === '/api/list') return send(res, 200, (await call(emoji, 'ListAll', {})).list);
    if (url.pathname === '/api/leaderboard') return send(res, 200, (await call(voting, 'Results', {})).results);
    if (url.pathname === '/api/vote') {
      const choice = url.searchParams.get('choice') ?? '';
      const found = await call(emoji, 'FindByShortcode', { shortcode: choice });
      const e = found.Emoji && EMOJI.find((x) => x.shortcode === found.Emoji.shortcode);
      if (!e) return send(res, 400, { error: `unknown emoji ${choice}` });
      await call(voting, e.vote, {});
      return send(res, 200, { voted: e.shortcode });
    }
    send(res, 404, { error: 'not found' });
  } catch (err) {
    send(res, 500, { error: err.details ?? err.message });
  }
});
server.listen(Number(process.env.WEB_PORT ?? 8080), '127.0.0.1', () => ready('web', server.address().port));
