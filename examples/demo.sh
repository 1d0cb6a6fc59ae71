#!/bin/sh
# The demo: placeholder until the networking core lands; loads the module and prints it.
lua5.4 -e 'local m = require "mmnet"; print(m._VERSION); for k, v in pairs(m) do print(k, v) end'
