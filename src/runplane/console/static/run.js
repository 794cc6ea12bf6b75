// run.js: behaviour of its pages (see console.js for the shared parts).
"use strict";
