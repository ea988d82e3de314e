/**
 * One upload's room in the spool (its reservation, spoolReservations.ts), shared between the file
 * it becomes and its scratch files (scratchFiles.ts): what the scratch files hold is taken from
 * the same reservation, so SPOOL_MAX_BYTES holds for both together, and is asked for before their
 * bytes are written. Once they are removed their room goes back to the spooled file.
 */
import type { SpoolRoom } from './spool.js';
import { scratchPath } from './scratchFiles.js';

/** Below this much room asked ahead, just what is needed is asked for. */
const MIN_AHEAD = 64 << 10;

/** The scratch files of one upload, and the room they hold. */
export interface Scratch {
  /** The file for `part` (letters, digits, - and _). */
  file(part: string): string;
  /** Makes sure the scratch files may hold `bytes` in all; false when the spool has no room for them. */
  hold(bytes: number): Promise<boolean>;
  /** The scratch files are gone: their room goes back to the spooled file. */
  release(): void;
}

export interface RoomShares {
  /** The room the spooled file may write into: the reservation's, less what the scratch files hold. */
  spooled: SpoolRoom;
  scratch: Scratch;
}

/**
 * Splits `room` (the reservation of the upload at `owner`) between its spooled file and its
 * scratch files in `dir`. Scratch room is asked for `step` bytes ahead (few round trips to the
 * database), less near the cap, where a quarter as much ahead is tried each time down to none.
 */
export function shareRoom(room: SpoolRoom, opts: { dir: string; owner: string; step: number }): RoomShares {
  let held = 0;
  /** How much is asked for ahead: less once the spool had not that much, never more again. */
  let ahead = opts.step;
  const spooled: SpoolRoom = {
    get allowed() { return room.allowed - held; },
    grow: (bytes) => room.grow(bytes + held),
  };
  const scratch: Scratch = {
    file: (part) => scratchPath(opts.dir, opts.owner, part),
    async hold(bytes) {
      if (bytes <= held) return true;
      // The spooled file keeps the room it has; the scratch files' comes on top of it. Near the
      // cap, less is asked ahead each time, down to just what is needed.
      const base = room.allowed - held;
      for (;;) {
        if (await room.grow(base + bytes + ahead)) {
          held = room.allowed - base;
          return true;
        }
        if (ahead === 0) return false;
        ahead = ahead >= MIN_AHEAD * 4 ? Math.floor(ahead / 4) : 0;
      }
    },
    release() { held = 0; },
  };
  return { spooled, scratch };
}
