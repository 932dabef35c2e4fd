// Runs the guest suite (test/vcan/*.vcan.ts) against the real kernel CAN stack in a User-Mode Linux
// guest (test/helpers/guest-suite.ts); the firmware-update files run in a guest of their own at the
// same time (test/firmware/firmware-update-in-guest.test.ts).
import { guestSuite, mainGuestFiles } from '../helpers/guest-suite.js';

guestSuite('SocketCAN transport against the kernel CAN stack: vcan suite in a UML guest', mainGuestFiles);
