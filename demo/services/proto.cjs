// Loads the emojivoto protos once for the demo services.
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function load(file) {
  return grpc.loadPackageDefinition(protoLoader.loadSync(path.join(__dirname, '..', 'proto', file))).emojivoto.v1;
}

module.exports = { grpc, Emoji: load('Emoji.proto'), Voting: load('Voting.proto') };

// The emoji the demo offers: shortcode → the Vote method of VotingService.
module.exports.EMOJI = [
  { unicode: '🍩', shortcode: ':doughnut:', vote: 'VoteDoughnut' },
  { unicode: '🐶', shortcode: ':dog:', vote: 'VoteDog' },
  { unicode: '🐱', shortcode: ':cat:', vote: 'VoteCat' },
  { unicode: '🚀', shortcode: ':rocket:', vote: 'VoteRocket' },
  { unicode: '❤️', shortcode: ':heart:', vote: 'VoteHeart' },
  { unicode: '🍕', shortcode: ':pizza:', vote: 'VotePizza' },
];

/** Prints the bound port as the first stdout line (the demo runner and tests read it). */
module.exports.ready = (name, port) => process.stdout.write(`${JSON.stringify({ service: name, port })}\n`);
