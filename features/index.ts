/** The definitions module every Tessera process loads: export every definition here. */
export * from './fraud.js';
