/**
 * Former home of authentication, now split into passwords.ts, users.ts, access.ts,
 * authenticator.ts and command.ts (see mod.ts). Kept only for tests/helpers/users.ts, which
 * imports {@linkcode hashPassword} from here; remove once that import names passwords.ts.
 *
 * @deprecated Import from `./mod.ts` or `./passwords.ts`.
 * @module
 */

export { hashPassword } from "./passwords.ts";
