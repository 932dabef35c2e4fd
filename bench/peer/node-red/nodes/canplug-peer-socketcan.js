// The peer's SocketCAN input node: what node-red-contrib-socketcan's `canreceive` does per frame
// (bench/README.md says why it is not that package itself), on the same `socketcan` 4.0.7 addon as
// canplug: a raw channel with timestamps, one message per frame, the frame as the payload.
module.exports = (RED) => {
  const can = require('socketcan');

  function CanplugPeerSocketcan(config) {
    RED.nodes.createNode(this, config);
    const channel = can.createRawChannel(config.interface, true);
    channel.addListener('onMessage', (frame) => {
      this.send({
        payload: {
          timestamp: frame.ts_sec !== undefined ? frame.ts_sec * 1000 + Math.floor(frame.ts_usec / 1000) : Date.now(),
          ext: frame.ext || false,
          canid: frame.id,
          dlc: frame.data.length,
          rtr: frame.rtr || false,
          data: Array.prototype.slice.call(frame.data, 0),
          err: frame.err || false,
          rawData: frame.data,
        },
      });
    });
    channel.start();
    this.on('close', () => channel.stop());
  }

  RED.nodes.registerType('canplug-peer-socketcan', CanplugPeerSocketcan);
};
