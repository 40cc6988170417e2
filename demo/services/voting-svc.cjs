// voting-svc: counts votes (gRPC). Voting for the doughnut fails, as in emojivoto.
// VOTING_DELAY_MS slows every vote down (to show the sidecar's timeout).
const { grpc, Voting, EMOJI, ready } = require('./proto.cjs');

const votes = new Map();
const delay = Number(process.env.VOTING_DELAY_MS ?? 0);
const handlers = {
  Results: (call, cb) => cb(null, { results: [...votes].map(([Shortcode, Votes]) => ({ Shortcode, Votes })).sort((a, b) => b.Votes - a.Votes) }),
};
for (const e of EMOJI) {
  handlers[e.vote] = (call, cb) => {
    setTimeout(() => {
      if (e.shortcode === ':doughnut:') return cb({ code: grpc.status.UNKNOWN, details: 'ERROR' });
      votes.set(e.shortcode, (votes.get(e.shortcode) ?? 0) + 1);
      cb(null, {});
    }, delay);
  };
}
const server = new grpc.Server();
server.addService(Voting.VotingService.service, handlers);
server.bindAsync(`127.0.0.1:${process.env.GRPC_PORT ?? 8080}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  ready('voting-svc', port);
});
