/** KeyMode SelfIssued for the test file that imports this first (before the handler it tests reads its environment). */
export const SELF_ISSUED_KEYS_TABLE = 'tollgate-test-self-issued-keys';
Object.assign(process.env, { KEY_MODE: 'SelfIssued', SELF_ISSUED_KEYS_TABLE });
