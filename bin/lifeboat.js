#!/usr/bin/env node
// The lifeboat CLI (the controller, and the commands a user runs from a laptop).
import { runProduct } from "./start.js";
await runProduct("lifeboat");
