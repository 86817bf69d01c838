//! Resets, stalls and cuts between the tool and the server.
