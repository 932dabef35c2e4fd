# Hardware abstraction: a "board" object gives the application everything that touches hardware.
# canplug.hal.esp32 builds it from machine/dht/time on the socket; canplug.hal.sim builds one with
# simulated mains, load and DHT under CPython. The application never imports machine itself.
