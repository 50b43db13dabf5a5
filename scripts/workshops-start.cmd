@echo off
rem Start the app on this laptop and open the browser on it (the desktop shortcut of
rem `flask launcher install` calls this). Ctrl+C in the window stops it cleanly; answer
rem the question "Terminer le programme de commandes (O/N) ?" with O. Extra arguments
rem go to `flask serve` (for example --port 5001). No admin rights needed.
setlocal
rem The lines below are read as UTF-8 (this file's accents, a path with accents).
chcp 65001 >nul
cd /d "%~dp0.."
rem WeasyPrint (the PDFs) needs Pango from MSYS2: say where it is, when in its usual place.
if not defined WEASYPRINT_DLL_DIRECTORIES if exist "C:\msys64\mingw64\bin\" set "WEASYPRINT_DLL_DIRECTORIES=C:\msys64\mingw64\bin"
if not exist ".venv\Scripts\flask.exe" (
    echo L'application n'est pas installée ici : voir docs\guide\fr\installation.md.
    echo Not installed here: see docs\guide\en\installation.md.
    pause
    exit /b 1
)
echo Ateliers : démarrage... Le navigateur va s'ouvrir. Pour arrêter : Ctrl+C dans cette fenêtre.
echo Workshops: starting... The browser will open. To stop: Ctrl+C in this window.
".venv\Scripts\flask.exe" serve --open-browser %*
if errorlevel 1 (
    echo.
    echo L'application s'est arrêtée sur une erreur, voir les lignes ci-dessus. Si elle est déjà
    echo ouverte dans une autre fenêtre, utilisez celle-là : http://127.0.0.1:5000/
    echo The app stopped on an error, see above; if it already runs in another window, use that one.
    pause
    exit /b 1
)
endlocal
