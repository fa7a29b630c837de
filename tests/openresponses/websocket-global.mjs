// Node 20 has no global WebSocket (the suite is written for Bun, whose WebSocket takes
// {headers}): ws's does, and serves the same addEventListener interface. Loaded with --import.
import WebSocket from "ws";

globalThis.WebSocket ??= WebSocket;
