#!/usr/bin/env bash
# Start the app on this laptop and open the browser on it (the launcher of
# `flask launcher install` runs this in a terminal window). Ctrl+C in the window, or
# closing it, stops the app cleanly. Extra arguments go to `flask serve`
# (for example --port 5001 or --no-browser).
set -u
cd "$(dirname "$(readlink -f "$0")")/.." || exit 1

if [ ! -x .venv/bin/flask ]; then
    echo "L'application n'est pas installée ici (.venv/bin/flask manque) :"
    echo "voir docs/guide/fr/installation.md. / Not installed here: see docs/guide/en/installation.md."
    if [ -t 0 ]; then read -r -p "Appuyez sur Entrée pour fermer. / Press Enter to close. " _; fi
    exit 1
fi

echo "Ateliers : démarrage… Le navigateur va s'ouvrir. Pour arrêter : Ctrl+C ou fermer cette fenêtre."
echo "Workshops: starting… The browser will open. To stop: Ctrl+C or close this window."
.venv/bin/flask serve --open-browser "$@"
status=$?
if [ "$status" -gt 128 ]; then
    echo "L'application a été arrêtée. / The app was stopped."
elif [ "$status" -ne 0 ]; then
    echo
    echo "L'application s'est arrêtée sur une erreur (code $status), voir les lignes ci-dessus."
    echo "Si elle est déjà ouverte dans une autre fenêtre, utilisez celle-là : http://127.0.0.1:5000/"
    echo "The app stopped on an error (code $status), see above; if it already runs in another"
    echo "window, use that one."
    if [ -t 0 ]; then read -r -p "Appuyez sur Entrée pour fermer. / Press Enter to close. " _; fi
fi
exit "$status"
