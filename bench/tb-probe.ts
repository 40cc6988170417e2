import { testbedRun } from './testbed.js';
const [receiver, join] = process.argv.slice(2);
console.log(JSON.stringify(await testbedRun(receiver!, join === 'on', Number(process.env.SECS ?? 10))));
