// Firmware updates over vcan0 in a User-Mode Linux guest of their own, beside the main guest suite
// (test/can/socketcan-in-guest.test.ts): its transfers run on a bus paced at 125 and 500 kbit/s in
// real time, so a second guest halves the suite's wall-clock time rather than adding to its CPU.
import { guestSuite, OWN_GUEST_FILES } from '../helpers/guest-suite.js';

guestSuite('firmware updates over vcan0 in a UML guest', () => OWN_GUEST_FILES);
