#!/usr/bin/env node
// The lifeboat CLI as a kubectl plugin: kubectl runs `kubectl-lifeboat` from PATH for `kubectl lifeboat ...`.
import { runProduct } from "./start.js";
await runProduct("kubectl lifeboat");
