/** DL/T 645-2007, the protocol of Chinese electricity meters: `import { dlt645 } from '@gatehouse/protocols'`. */
export * from './frame.js';
export * from './scanner.js';
export * from './data.js';
export * from './messages.js';
