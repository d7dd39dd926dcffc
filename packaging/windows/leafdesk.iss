; Inno Setup 6 script of LeafDesk's Windows installer: a per-user install that needs no
; administrator rights, with Start menu entry, optional desktop icon and uninstaller.
;
; Compile it after packaging/build has made dist\LeafDesk, from the repository root:
;   iscc packaging\windows\leafdesk.iss
; The installer lands in dist\ as LeafDesk-<version>-setup.exe. To sign the installer and its
; uninstaller, define a sign tool named "leafdesk" and pass its name (see the README):
;   iscc /Sleafdesk="signtool.exe sign /fd SHA256 /td SHA256 /tr URL /sha1 THUMBPRINT $f"
;        /DSignToolName=leafdesk packaging\windows\leafdesk.iss
;
; Silent install, for software deployment tools:
;   LeafDesk-<version>-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Silent uninstall:
;   "%LOCALAPPDATA%\Programs\LeafDesk\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART

#define AppName "LeafDesk"
#define AppExeName "LeafDesk.exe"
#define AppPublisher "LeafDesk contributors"

; SourcePath is this script's folder; the [Setup] paths below are relative to it as well.
; A BundleDir given on the command line must be an absolute path.
#ifndef BundleDir
  #define BundleDir AddBackslash(SourcePath) + "..\..\dist\LeafDesk"
#endif
#define AppExe AddBackslash(BundleDir) + AppExeName

#if !FileExists(AppExe)
  #error The PyInstaller bundle is missing: run packaging/build first, or pass /DBundleDir=FOLDER.
#endif

; The version comes from the executable's version resource, which the PyInstaller spec writes
; from the package version in pyproject.toml. /DAppVersion=X overrides it.
#ifndef AppVersion
  #define AppVersion GetStringFileInfo(AppExe, "ProductVersion")
#endif
; The four-number form Windows shows in the installer's file properties.
#define AppVersionNumbers GetVersionNumbersString(AppExe)

[Setup]
; The AppId ties upgrades and the uninstaller to this product; never change it after a release.
AppId={{8C13232B-6724-4652-ACD5-E864A40F69B0}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#AppVersionNumbers}
VersionInfoProductVersion={#AppVersionNumbers}
VersionInfoProductTextVersion={#AppVersion}
; Per-user install: no elevation prompt, files under %LOCALAPPDATA%\Programs\LeafDesk ({userpf}),
; shortcuts in the user's own Start menu. LeafDesk's settings, caches and logs live apart from
; the program files, in %LOCALAPPDATA%\LeafDesk, and the uninstaller leaves them in place.
PrivilegesRequired=lowest
DefaultDirName={userpf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
; PySide6 and the bundled Python are 64-bit only.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=..\..\resources\leafdesk.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; An upgrade closes a running LeafDesk first, because Windows will not replace its open DLLs.
CloseApplications=yes
RestartApplications=no
#ifdef SignToolName
SignTool={#SignToolName}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; Files of an earlier version that this one no longer ships would otherwise stay in _internal
; and could be loaded by the new version.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{userprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
