# Stands in for the CAN port when the controller does not answer at start-up: the node keeps
# protecting the socket on its own (interlock, trips) and shows the fault on its LED.


class OfflinePort:
    rx_depth = 1

    def __init__(self, reason):
        self.reason = reason
        self.dropped = 0

    def send(self, can_id, data):
        self.dropped += 1
        return True  # nowhere to go; do not let the outbox fill up

    def recv(self):
        return None

    def service(self):
        pass
