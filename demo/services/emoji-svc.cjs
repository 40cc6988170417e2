// emoji-svc: lists the emoji and finds one by shortcode (gRPC), as emojivoto's emoji-svc.
const { grpc, Emoji, EMOJI, ready } = require('./proto.cjs');

const server = new grpc.Server();
server.addService(Emoji.EmojiService.service, {
  ListAll: (call, cb) => cb(null, { list: EMOJI.map(({ unicode, shortcode }) => ({ unicode, shortcode })) }),
  FindByShortcode: (call, cb) => {
    const e = EMOJI.find((x) => x.shortcode === call.request.shortcode);
    cb(null, e ? { Emoji: { unicode: e.unicode, shortcode: e.shortcode } } : {});
  },
});
server.bindAsync(`127.0.0.1:${process.env.GRPC_PORT ?? 8080}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  ready('emoji-svc', port);
});
