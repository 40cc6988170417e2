import { saturationSearch } from './testbed.js';
const [receiver, workers, start] = process.argv.slice(2);
const r = await saturationSearch(receiver!, Number(workers), Number(process.env.SECS ?? 10), Number(start ?? 4000));
console.log(JSON.stringify(r));
